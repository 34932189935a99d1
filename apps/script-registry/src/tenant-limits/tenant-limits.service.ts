import { Injectable } from '@nestjs/common';
import { LIMIT_CAP_KEYS, limitOverCap, ResourceLimits, TenantDatabase, TenantLimitCaps, TenantScoped } from '@provisio/persistence';
import { Principal, ValidationError } from '@provisio/platform';
import { AuditService } from '../audit/audit.service';
import type { SetTenantLimitsDto, TenantLimitsDto } from './dtos/tenant-limits.dto';
import { TenantLimitsRepository } from './tenant-limits.repository';

/**
 * The caps an administrator (`tenant:manage`) sets on what a tenant's scripts may ask for, and the check
 * scripts are written under. Runs re-apply them with `capResourceLimits` (libs/persistence).
 */
@Injectable()
export class TenantLimitsService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly limits: TenantLimitsRepository,
    private readonly audit: AuditService,
  ) {}

  async get(principal: Principal): Promise<TenantLimitsDto> {
    const { caps, set } = await this.limits.get(this.db.read(principal));
    return { tenant_id: principal.tenantId, ...caps, set };
  }

  async set(principal: Principal, dto: SetTenantLimitsDto): Promise<TenantLimitsDto> {
    const given = Object.fromEntries(LIMIT_CAP_KEYS.filter((key) => dto[key] !== undefined).map((key) => [key, dto[key]!])) as Partial<TenantLimitCaps>;
    await this.db.write(principal, async (tx) => {
      const before = await this.limits.get(tx);
      await this.limits.set(tx, given);
      await this.audit.record(tx, { script_id: null, entity_type: 'tenant', entity_id: principal.tenantId, action: 'update_limits', details: { before: before.caps, set: given } });
    });
    return this.get(principal);
  }

  /**
   * The limits a script is saved with: refused (400 naming the field and the cap) when a key the request
   * gave is above the tenant's cap; a key it did not give (seed 001's default, or the current value on
   * update) is lowered to the cap instead, so a request that asks for nothing in particular never fails.
   */
  async fit(db: TenantScoped, limits: ResourceLimits, given: Partial<Record<string, unknown>> | undefined): Promise<ResourceLimits> {
    const caps = (await this.limits.get(db)).caps;
    const over = limitOverCap(Object.fromEntries(LIMIT_CAP_KEYS.filter((key) => given?.[key] !== undefined).map((key) => [key, limits[key]])), caps);
    if (over) throw new ValidationError(`resource_limits.${over.key} is ${over.value}, above the tenant's cap of ${over.cap} (GET /tenant/limits)`, `resource_limits.${over.key}`, { cap: over.cap });
    const fitted = { ...limits };
    for (const key of LIMIT_CAP_KEYS) if (typeof fitted[key] === 'number') fitted[key] = Math.min(fitted[key], caps[key]);
    return fitted;
  }

  /** The tenant's caps now (for a run). */
  async caps(db: TenantScoped): Promise<TenantLimitCaps> {
    return (await this.limits.get(db)).caps;
  }
}
