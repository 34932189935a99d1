/**
 * Tenancy rows every write needs: the tenant itself (seed 001's foreign keys), its default organization
 * (seed 001 requires `scripts.organization_id`; seed 000 scripts have none) and the caller as a `users`
 * row (seed 001's `created_by INTEGER`; the JWT `sub` is `users.subject`). All idempotent and safe under
 * concurrency: run them inside the caller's transaction.
 */
export interface Queryable {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  query(sql: string, parameters?: unknown[]): Promise<any>;
}

export const DEFAULT_ORGANIZATION_NAME = 'default';

/** Makes sure the tenant and its default organization exist; returns the default organization's id. */
export async function ensureTenant(db: Queryable, tenantId: string, name: string = tenantId): Promise<string> {
  await db.query('INSERT INTO tenants (id, name, slug) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [tenantId, name, tenantId.toLowerCase()]);
  await db.query('INSERT INTO organizations (tenant_id, name, is_default) VALUES ($1, $2, true) ON CONFLICT DO NOTHING', [tenantId, DEFAULT_ORGANIZATION_NAME]);
  return defaultOrganizationId(db, tenantId);
}

export async function defaultOrganizationId(db: Queryable, tenantId: string): Promise<string> {
  const rows: { id: string }[] = await db.query('SELECT id FROM organizations WHERE tenant_id = $1 AND is_default', [tenantId]);
  if (rows.length === 0) throw new Error(`tenant ${tenantId} has no default organization`);
  return rows[0].id;
}

/** The `users.id` of an actor (JWT `sub`) in a tenant, created on first sight. The tenant must exist. */
export async function resolveActor(db: Queryable, tenantId: string, subject: string): Promise<number> {
  const select = () => db.query('SELECT id FROM users WHERE tenant_id = $1 AND subject = $2', [tenantId, subject]) as Promise<{ id: number }[]>;
  const found = await select();
  if (found.length) return found[0].id;
  const inserted: { id: number }[] = await db.query(
    'INSERT INTO users (tenant_id, subject) VALUES ($1, $2) ON CONFLICT (tenant_id, subject) DO NOTHING RETURNING id',
    [tenantId, subject],
  );
  if (inserted.length) return inserted[0].id;
  return (await select())[0].id; // inserted concurrently by someone else
}
