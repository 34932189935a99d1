// Resource limits of one execution: the seed's `resource_limits` JSON plus the sandbox's own bounds.

export interface ResourceLimits {
  /** Wall time of the whole run, async waits (fetch) included. */
  max_execution_time_ms: number;
  /** Heap of the run's QuickJS runtime. */
  max_memory_bytes: number;
  /** Runs of one script at the same time in this process (enforced when a `scriptId` is given). */
  max_concurrent_runs: number;
  /** `fetch` calls of one script per sliding minute, across runs, in this process. */
  max_api_calls_per_minute: number;
  /** UTF-8 size of the JSON-serialised return value. */
  max_output_size_bytes: number;
  /** QuickJS stack (deep recursion ends in a stack overflow error). */
  max_stack_size_bytes: number;
}

export const DEFAULT_RESOURCE_LIMITS: Readonly<ResourceLimits> = Object.freeze({
  max_execution_time_ms: 30_000,
  max_memory_bytes: 67_108_864,
  max_concurrent_runs: 5,
  max_api_calls_per_minute: 60,
  max_output_size_bytes: 1_048_576,
  max_stack_size_bytes: 512 * 1024,
});

/** Upper bounds a tenant cannot raise its limits past. */
export const MAX_RESOURCE_LIMITS: Readonly<ResourceLimits> = Object.freeze({
  max_execution_time_ms: 15 * 60_000,
  max_memory_bytes: 1024 * 1024 * 1024,
  max_concurrent_runs: 1000,
  max_api_calls_per_minute: 100_000,
  max_output_size_bytes: 64 * 1024 * 1024,
  max_stack_size_bytes: 4 * 1024 * 1024,
});

const MIN_RESOURCE_LIMITS: Readonly<ResourceLimits> = Object.freeze({
  max_execution_time_ms: 1,
  max_memory_bytes: 1024 * 1024,
  max_concurrent_runs: 1,
  max_api_calls_per_minute: 0,
  max_output_size_bytes: 0,
  max_stack_size_bytes: 16 * 1024,
});

/** Fills missing limits with the defaults and clamps each one into its allowed range. */
export function resolveLimits(limits?: Partial<ResourceLimits> | null): ResourceLimits {
  const out = { ...DEFAULT_RESOURCE_LIMITS };
  if (!limits) return out;
  for (const key of Object.keys(DEFAULT_RESOURCE_LIMITS) as (keyof ResourceLimits)[]) {
    const value = limits[key];
    if (typeof value !== 'number' || !Number.isFinite(value)) continue;
    out[key] = Math.min(MAX_RESOURCE_LIMITS[key], Math.max(MIN_RESOURCE_LIMITS[key], Math.floor(value)));
  }
  return out;
}
