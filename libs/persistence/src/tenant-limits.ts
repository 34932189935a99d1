import { DEFAULT_RESOURCE_LIMITS, type ResourceLimits } from './entities/script.entity';

/**
 * Caps an administrator sets per tenant on the `resource_limits` its scripts may ask for, kept in
 * `tenants.settings.limits` (a JSON object with any of the keys below; a missing key takes its default).
 * The registry refuses a script asking for more (400 naming the field and the cap) and every service that
 * runs a script re-applies them at run time (`capResourceLimits`), so a cap lowered later binds scripts
 * saved before it. Set with `PUT /tenant/limits` (`tenant:manage`) in the script registry.
 */
export const LIMIT_CAP_KEYS = ['max_execution_time_ms', 'max_memory_bytes', 'max_output_size_bytes', 'max_concurrent_runs', 'max_api_calls_per_minute'] as const;
export type LimitCapKey = (typeof LIMIT_CAP_KEYS)[number];
export type TenantLimitCaps = Record<LimitCapKey, number>;

/**
 * The caps of a tenant without settings: above seed 001's defaults (30 s, 64 MiB, 1 MiB, 5, 60) so a
 * default script always fits, and low enough that one tenant's runs cannot take a worker's memory
 * (docs/operations.md): 5 minutes, 128 MiB, 8 MiB of output, 20 concurrent runs, 600 calls a minute.
 */
export const DEFAULT_TENANT_LIMIT_CAPS: Readonly<TenantLimitCaps> = Object.freeze({
  max_execution_time_ms: 5 * 60_000,
  max_memory_bytes: 128 * 1024 * 1024,
  max_output_size_bytes: 8 * 1024 * 1024,
  max_concurrent_runs: 20,
  max_api_calls_per_minute: 600,
});

/** A tenant's caps from its `tenants.settings` (NULL, missing or malformed keys take the defaults). */
export function tenantLimitCaps(settings: unknown): TenantLimitCaps {
  const given = (settings as { limits?: Record<string, unknown> } | null | undefined)?.limits;
  const caps = { ...DEFAULT_TENANT_LIMIT_CAPS };
  if (given && typeof given === 'object') {
    for (const key of LIMIT_CAP_KEYS) {
      const value = given[key];
      if (typeof value === 'number' && Number.isInteger(value) && value > 0) caps[key] = value;
    }
  }
  return caps;
}

/** The first of `limits` above its cap, or undefined: what the registry answers 400 for. */
export function limitOverCap(limits: Partial<ResourceLimits>, caps: TenantLimitCaps): { key: LimitCapKey; value: number; cap: number } | undefined {
  for (const key of LIMIT_CAP_KEYS) {
    const value = limits[key];
    if (typeof value === 'number' && value > caps[key]) return { key, value, cap: caps[key] };
  }
  return undefined;
}

/**
 * The limits a run gets: the script's (seed 001's default for a missing key), each lowered to the tenant's
 * cap. Call it at run time with the tenant's current caps: a script saved under a higher cap is held to
 * the current one. Keys that are not capped (`max_stack_size_bytes`) pass through.
 */
export function capResourceLimits<T extends Partial<Record<LimitCapKey, number>>>(limits: T, caps: TenantLimitCaps): T & Record<LimitCapKey, number> {
  const capped: Record<string, number> = { ...(limits as Record<string, number>) };
  for (const key of LIMIT_CAP_KEYS) {
    const value = typeof capped[key] === 'number' ? capped[key] : DEFAULT_RESOURCE_LIMITS[key];
    capped[key] = Math.min(value, caps[key]);
  }
  return capped as T & Record<LimitCapKey, number>;
}
