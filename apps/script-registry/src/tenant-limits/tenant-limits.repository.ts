import { Injectable } from '@nestjs/common';
import { CallerTransaction, LIMIT_CAP_KEYS, TenantLimitCaps, tenantLimitCaps, TenantScoped } from '@provisio/persistence';

/**
 * `tenants.settings.limits`, the caps of a tenant's resource limits (libs/persistence `tenant-limits.ts`).
 * The tenants row has no `tenant_id` column: statements reach it through the tenant's default
 * organization, which the tenant layer can check.
 */
@Injectable()
export class TenantLimitsRepository {
  /** The caps in force, and which keys were set (none when the tenant has no row yet). */
  async get(db: TenantScoped): Promise<{ caps: TenantLimitCaps; set: string[] }> {
    const row = await db.one<{ settings: unknown }>(
      'SELECT t.settings FROM organizations o JOIN tenants t ON t.id = o.tenant_id WHERE o.tenant_id = $1 AND o.is_default',
    );
    const given = (row?.settings as { limits?: Record<string, unknown> } | null)?.limits ?? {};
    return { caps: tenantLimitCaps(row?.settings), set: LIMIT_CAP_KEYS.filter((key) => given[key] !== undefined) };
  }

  /** Replaces the caps (keys left out fall back to their defaults); the tenant row exists in a caller's write. */
  async set(tx: CallerTransaction, limits: Partial<TenantLimitCaps>): Promise<void> {
    await tx.execute(
      `UPDATE tenants t SET settings = jsonb_set(COALESCE(t.settings, '{}'::jsonb), '{limits}', $2::jsonb), updated_at = now()
         FROM organizations o WHERE o.tenant_id = $1 AND o.is_default AND t.id = o.tenant_id`,
      [JSON.stringify(limits)],
    );
  }
}
