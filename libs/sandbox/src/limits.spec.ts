import { DEFAULT_RESOURCE_LIMITS, MAX_RESOURCE_LIMITS, resolveLimits } from './limits';

describe('resolveLimits', () => {
  it('uses the seed defaults', () => {
    expect(resolveLimits()).toEqual(DEFAULT_RESOURCE_LIMITS);
    expect(DEFAULT_RESOURCE_LIMITS).toMatchObject({
      max_execution_time_ms: 30000,
      max_memory_bytes: 67108864,
      max_concurrent_runs: 5,
      max_api_calls_per_minute: 60,
      max_output_size_bytes: 1048576,
    });
  });

  it('keeps given values and clamps nonsense', () => {
    const limits = resolveLimits({ max_execution_time_ms: 250.7, max_memory_bytes: 10, max_api_calls_per_minute: -5, max_output_size_bytes: Number.NaN });
    expect(limits.max_execution_time_ms).toBe(250);
    expect(limits.max_memory_bytes).toBe(1024 * 1024);
    expect(limits.max_api_calls_per_minute).toBe(0);
    expect(limits.max_output_size_bytes).toBe(DEFAULT_RESOURCE_LIMITS.max_output_size_bytes);
    expect(resolveLimits({ max_memory_bytes: 1e15 }).max_memory_bytes).toBe(MAX_RESOURCE_LIMITS.max_memory_bytes);
  });
});
