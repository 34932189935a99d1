// The public shapes of the sandbox: what a caller asks for and what it gets back.
import type { ResourceLimits } from './limits';

/** `cancelled`: SandboxPool.cancel(executionId) ended the run. */
export type ExecutionStatus = 'completed' | 'failed' | 'timeout' | 'cancelled';
export type LogLevel = 'log' | 'info' | 'warn' | 'error' | 'debug';

export interface LogEntry {
  level: LogLevel;
  message: string;
  /** ISO-8601 time the line was written. */
  at: string;
}

export interface ExecutionMetrics {
  duration_ms: number;
  /** Heap in use by the script's QuickJS runtime when the run ended. */
  memory_used_bytes: number;
  api_call_count: number;
}

export interface ExecutionResult {
  status: ExecutionStatus;
  /** The script's return value after a JSON round trip (`null` for `undefined`); `null` unless completed. */
  output: unknown;
  error: string | null;
  logs: LogEntry[];
  metrics: ExecutionMetrics;
}

/** The request a dry run or a caller-controlled environment answers instead of the network. */
export interface SandboxFetchRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | null;
}

export interface SandboxFetchResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * Replaces the real HTTP call (dry runs). It runs in the caller's thread; the sandbox still applies the
 * URL rules, the rate limit and the timeout around it.
 */
export type FetchImpl = (request: SandboxFetchRequest) => Promise<SandboxFetchResponse> | SandboxFetchResponse;

/** The trigger's context, copied into the script as JSON (`ctx`). */
export interface ScriptContext {
  event?: unknown;
  input?: unknown;
  operation?: unknown;
  identity?: unknown;
  connector?: unknown;
  [key: string]: unknown;
}

export interface ExecuteRequest {
  source: string;
  context?: ScriptContext;
  limits?: Partial<ResourceLimits>;
  tenantId: string;
  /** Keys the per-minute API call budget and the concurrency limit; defaults to a hash of tenant + source. */
  scriptId?: string;
  /** What `SandboxPool.cancel` names the run by. */
  executionId?: string;
  /**
   * The caller already holds the run's `max_concurrent_runs` place (`ScriptRunGate` of
   * `@provisio/script-execution`): the pool takes no per-script slot of its own.
   */
  scriptSlotHeld?: boolean;
  /** Hosts this tenant allows `fetch` to reach even when they resolve to private addresses (`api.corp.local`, `*.corp.local`). */
  allowedHosts?: string[];
  /**
   * Ports `fetch` may reach besides 80 and 443 (the tenant's `allowed_ports` setting); any other port
   * is refused before a connection is made.
   */
  allowedPorts?: number[];
  /** When set, `fetch` calls this instead of the network (dry runs). */
  fetchImpl?: FetchImpl;
}

export interface ValidationError {
  line: number;
  column: number;
  message: string;
}

export interface ValidationWarning {
  line?: number;
  column?: number;
  message: string;
}

export interface ValidationResult {
  valid: boolean;
  errors: ValidationError[];
  warnings: ValidationWarning[];
}
