// Messages between the pool (main thread) and its workers. Each postMessage carries an ARRAY of
// messages: both sides batch what they have to say within one tick.
import type { RawRunResult } from '../engine/script-runner';
import type { ResourceLimits } from '../limits';
import type { SandboxFetchRequest, SandboxFetchResponse, ValidationResult } from '../types';

/** Layout of the Float64Array over each worker's SharedArrayBuffer, read by the pool's watchdog. */
export const CONTROL = {
  /** Deadline (epoch ms) of the VM slice running right now; 0 while the worker is outside QuickJS. */
  sliceDeadline: 0,
  /** Task id of the run in that slice. */
  sliceTask: 1,
  /** Highest per-worker sequence number the worker has started. */
  startedSeq: 2,
  length: 3,
} as const;

export interface RunJobMessage {
  source: string;
  contextJson: string;
  limits: ResourceLimits;
  allowedHosts: string[];
  /** Ports `fetch` may reach besides 80 and 443 (the tenant's allowed ports). */
  allowedPorts: number[];
  /** Rate-limit key (tenant + script). */
  apiKey: string;
  /** `fetch` is answered by the caller's fetchImpl in the main thread (dry runs). */
  proxyFetch: boolean;
}

export type ToWorker =
  | { t: 'run'; id: number; seq: number; job: RunJobMessage }
  | { t: 'validate'; id: number; seq: number; source: string }
  | { t: 'reply'; rid: number; ok: boolean; value?: unknown; error?: string };

export type FromWorker =
  | { t: 'ready' }
  | { t: 'result'; id: number; result: RawRunResult }
  | { t: 'validated'; id: number; result: ValidationResult }
  /** The worker could not take the task (it is retiring); the pool queues it again. */
  | { t: 'bounce'; id: number }
  /** Number of runs waiting on host I/O changed (they do not occupy the worker's CPU). */
  | { t: 'parked'; count: number }
  /** A run (task `id`) starts a fetch with `method`: one call of its per-minute API budget. */
  | { t: 'acquire'; rid: number; id: number; method: string; key: string; limit: number }
  | { t: 'fetch'; rid: number; id: number; request: SandboxFetchRequest; timeoutMs: number }
  /**
   * Replace this worker. `graceful`: it finishes what it holds first (its WASM memory grew large);
   * otherwise its QuickJS module faulted and nothing more may run on it.
   */
  | { t: 'retire'; reason: string; graceful: boolean };

export type ProxiedFetchResponse = SandboxFetchResponse & { url?: string };
