// @provisio/sandbox: compile/validate and execute tenant scripts in QuickJS (WebAssembly) with limits,
// on a pool of worker threads, behind a small versioned host API. See docs/script-api.md.
export { DEFAULT_RESOURCE_LIMITS, MAX_RESOURCE_LIMITS, resolveLimits, type ResourceLimits } from './limits';
export { HOST_API_VERSION } from './host/host-api';
export { HELPER_NAMES, email, formatDate, normalize, slugify, transliterate, username, type UsernameOptions } from './host/helpers';
export { validate, MAX_SOURCE_BYTES } from './validate';
export { SandboxPool, type SandboxPoolOptions, type SandboxPoolStats } from './pool/sandbox-pool';
export { blockedAddressReason, blockedNameReason, isHostAllowed } from './net/address-policy';
export { FETCH_MAX_RESPONSE_BYTES, FETCH_MAX_TIMEOUT_MS } from './net/guarded-fetch';
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
