import { randomUUID } from 'node:crypto';
import { ensureTenant, Queryable, resolveActor } from '../tenancy';

export interface TenantFixture {
  tenantId: string;
  /** The tenant's default organization. */
  organizationId: string;
  /** `users.id` of `subject`. */
  userId: number;
  subject: string;
}

/** A new tenant with its default organization and one user, for integration tests. */
export async function createTenantFixture(db: Queryable, { subject = 'test-user' }: { subject?: string } = {}): Promise<TenantFixture> {
  const tenantId = randomUUID();
  const organizationId = await ensureTenant(db, tenantId, `tenant ${tenantId.slice(0, 8)}`);
  const userId = await resolveActor(db, tenantId, subject);
  return { tenantId, organizationId, userId, subject };
}
