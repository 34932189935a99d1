import { DEFAULT_RESOURCE_LIMITS } from './entities/script.entity';
import { capResourceLimits, DEFAULT_TENANT_LIMIT_CAPS, limitOverCap, tenantLimitCaps } from './tenant-limits';

describe('tenant limit caps', () => {
  it('take the defaults for missing or malformed keys, and never cap a default script', () => {
    expect(tenantLimitCaps(null)).toEqual(DEFAULT_TENANT_LIMIT_CAPS);
    expect(tenantLimitCaps({ limits: { max_memory_bytes: 'lots', max_concurrent_runs: -1, max_output_size_bytes: 1.5 } })).toEqual(DEFAULT_TENANT_LIMIT_CAPS);
    expect(tenantLimitCaps({ limits: { max_memory_bytes: 32 * 1024 * 1024 } })).toEqual({ ...DEFAULT_TENANT_LIMIT_CAPS, max_memory_bytes: 32 * 1024 * 1024 });
    expect(limitOverCap(DEFAULT_RESOURCE_LIMITS, DEFAULT_TENANT_LIMIT_CAPS)).toBeUndefined();
  });

  it('name the first limit above its cap', () => {
    const caps = tenantLimitCaps({ limits: { max_concurrent_runs: 2 } });
    expect(limitOverCap({ max_concurrent_runs: 3, max_memory_bytes: 1 }, caps)).toEqual({ key: 'max_concurrent_runs', value: 3, cap: 2 });
    expect(limitOverCap({ max_concurrent_runs: 2 }, caps)).toBeUndefined();
  });

  it('lower every limit of a run to its cap, defaults included, and keep what is not capped', () => {
    const caps = tenantLimitCaps({ limits: { max_memory_bytes: 16 * 1024 * 1024, max_execution_time_ms: 10_000 } });
    expect(capResourceLimits({ max_memory_bytes: 64 * 1024 * 1024, max_stack_size_bytes: 65536 }, caps)).toEqual({
      ...DEFAULT_RESOURCE_LIMITS,
      max_memory_bytes: 16 * 1024 * 1024,
      max_execution_time_ms: 10_000,
      max_stack_size_bytes: 65536,
    });
    expect(capResourceLimits({ max_memory_bytes: 2 * 1024 * 1024 }, caps).max_memory_bytes).toBe(2 * 1024 * 1024);
  });
});
