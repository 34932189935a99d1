// @provisio/sandbox: compile/validate and execute tenant scripts in QuickJS (WebAssembly) with limits,
// on a pool of worker threads, behind a small versioned host API. See docs/script-api.md.
export { DEFAULT_RESOURCE_LIMITS, MAX_RESOURCE_LIMITS, resolveLimits, type ResourceLimits } from './limits';
export { HOST_API_VERSION } from './host/host-api';
export { HELPER_NAMES, email, formatDate, normalize, slugify, transliterate, username, type UsernameOptions } from './host/helpers';
export { validate, MAX_SOURCE_BYTES } from './validate';
export {
  PROCESS_BASE_BYTES,
  SANDBOX_POOL_DEFAULTS,
  SandboxPool,
  WORKER_ISOLATE_BYTES,
  processMemoryBound,
  type SandboxPoolOptions,
  type SandboxPoolStats,
} from './pool/sandbox-pool';
export { SandboxBusyError } from './pool/sandbox-busy.error';
export { ENGINE_KEEP_BYTES, MEMORY_SLACK_BYTES, engineCeiling } from './engine/snapshot-engine';
export { blockedAddressReason, blockedNameReason, isHostAllowed } from './net/address-policy';
export { FETCH_DEFAULT_PORTS, FETCH_MAX_RESPONSE_BYTES, FETCH_MAX_TIMEOUT_MS } from './net/guarded-fetch';
export { MAX_LOG_BYTES, MAX_LOG_LINES, TRUNCATED_MARKER } from './engine/script-runner';
export type {
  ExecuteRequest,
  ExecutionMetrics,
  ExecutionResult,
  ExecutionStatus,
  FetchImpl,
  LogEntry,
  LogLevel,
  SandboxFetchRequest,
  SandboxFetchResponse,
  ScriptContext,
  ValidationError,
  ValidationResult,
  ValidationWarning,
} from './types';
