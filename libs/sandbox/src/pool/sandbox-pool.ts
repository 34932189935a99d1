// The pool of sandbox worker threads. It queues tasks per tenant (served in turn, and a bounded queue:
// past its bound execute() rejects with SandboxBusyError), hands each to the least-loaded worker
// (while other tenants are active, no tenant takes every worker), keeps the per-script API budget and
// concurrency in one place (this thread), answers dry-run fetches with the caller's fetchImpl, and
// replaces a worker that got stuck (a run not back from QuickJS by its deadline plus a grace period:
// e.g. catastrophic regex backtracking, which QuickJS cannot interrupt) or whose engine faulted. The
// stuck run ends as a timeout; the other runs the lost worker held are queued again, unless they had
// already sent a fetch that changes something (POST, PUT, PATCH, DELETE: running them again would
// repeat it): those fail with the reason.
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { RawRunResult } from '../engine/script-runner';
import { resolveLimits } from '../limits';
import { ApiRateLimiter } from '../net/api-rate-limiter';
import { FETCH_MAX_RESPONSE_BYTES } from '../net/guarded-fetch';
import { ENGINE_MEMORY_BUDGET_BYTES, MAX_ENGINES } from '../engine/snapshot-engine';
import type { ExecuteRequest, ExecutionResult, FetchImpl, SandboxFetchRequest, ValidationResult } from '../types';
import { FairQueue } from './fair-queue';
import { CONTROL, type FromWorker, type ProxiedFetchResponse, type RunJobMessage, type ToWorker } from './protocol';
import { SandboxBusyError } from './sandbox-busy.error';
import { spawnSandboxWorker } from './worker-spawn';

export interface SandboxPoolOptions {
  /** Worker threads; default `os.availableParallelism()`. */
  size?: number;
  /**
   * Runnable tasks (not waiting on I/O) handed to one worker at a time; more wait in the pool's queue.
   * Default 2: enough to keep a worker busy between round trips, while at most one run can be stuck
   * behind a long-running script on the same worker.
   */
  maxQueuedPerWorker?: number;
  /** All tasks one worker holds, waiting on I/O included. Default maxEnginesPerWorker. */
  maxInFlightPerWorker?: number;
  /**
   * QuickJS engines one worker thread holds at once (each run holds one, waits on fetch included).
   * Default 16.
   */
  maxEnginesPerWorker?: number;
  /**
   * WebAssembly memory the engines of one worker may hold together. A run reserves its engine's
   * ceiling (heap start ~5.1 MiB + max_memory_bytes + 1 MiB, at least 16 MiB, at most this budget)
   * and waits while the budget is taken. Default 384 MiB. See docs/operations.md (memory).
   */
  engineMemoryPerWorkerBytes?: number;
  /** Runs (and validations) waiting for a worker, beyond which execute() rejects with SandboxBusyError. Default 1000. */
  maxQueuedRuns?: number;
  /** How long past a run's deadline a worker may stay inside QuickJS before it is terminated. Default 150 ms. */
  graceMs?: number;
  /** Native stack of each worker thread (QuickJS recursion uses it). Default 8 MiB. */
  workerStackSizeMb?: number;
  /**
   * V8 young generation of each worker. Runs allocate many short-lived host objects; a roomier young
   * generation means fewer scavenges (each one a pause of every run on that worker). Default 64 MiB.
   */
  workerYoungGenerationMb?: number;
  /**
   * A worker whose shared QuickJS module (compiling, validating) grew past this much WebAssembly memory
   * (it never shrinks) is replaced: it takes no new runs, its replacement starts at once, and it ends
   * when its last run is answered. Default 64 MiB. (A run's engine is dropped when its memory grew past 16 MiB.)
   */
  recycleWorkerAfterWasmBytes?: number;
  /**
   * V8 old generation of each worker (host-side copies of what scripts hand out). A worker that
   * needs more ends (ERR_WORKER_OUT_OF_MEMORY) and is replaced; the process goes on. Default 128 MiB.
   */
  workerOldGenerationMb?: number;
  /** Worker file to run instead of the built-in one (tests). */
  workerFile?: string;
}

export interface SandboxPoolStats {
  size: number;
  ready: number;
  queued: number;
  inFlight: number;
  /** Workers replaced since the pool started (stuck, faulted or crashed). */
  replaced: number;
}

interface TaskCommon {
  id: number;
  /** Whose turn the task waits for in the queue. */
  tenant: string;
  /** Times a lost worker's task was queued again. */
  requeues?: number;
}
type Task =
  | (TaskCommon & { kind: 'run'; job: RunJobMessage; fetchImpl?: FetchImpl; scriptKey?: string; executionId?: string; cancelled?: boolean; resolve: (r: ExecutionResult) => void; startedAt: number; sentUnsafeFetch?: boolean })
  | (TaskCommon & { kind: 'validate'; source: string; resolve: (r: ValidationResult) => void; reject: (e: Error) => void });

interface Slot {
  worker: Worker;
  /** Takes no new tasks; terminated once its last task is answered. */
  draining: boolean;
  control: Float64Array;
  ready: boolean;
  dead: boolean;
  seq: number;
  parked: number;
  tasks: Map<number, Task & { seq: number }>;
  /** Tasks this worker holds per tenant. */
  tenants: Map<string, number>;
  outbox: ToWorker[];
  flushQueued: boolean;
  /** Whether the worker keeps the process alive (only while the pool has work). */
  refed: boolean;
}

const WATCHDOG_INTERVAL_MS = 25;
/** A tenant seen this recently counts as active: the others then leave it a worker. */
const TENANT_ACTIVE_MS = 1000;
/** Times one task is queued again after losing its worker before it fails instead. */
const MAX_REQUEUES = 2;
/** The tenant key of validations (the registry's compile checks). */
const VALIDATION_TENANT = '\u0000validate';
/** Requests that change nothing: a run that sent only these may run again from the start. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The pool's defaults, also the figures of the memory formula (processMemoryBound). */
export const SANDBOX_POOL_DEFAULTS = Object.freeze({
  maxQueuedPerWorker: 2,
  maxEnginesPerWorker: MAX_ENGINES,
  engineMemoryPerWorkerBytes: ENGINE_MEMORY_BUDGET_BYTES,
  maxQueuedRuns: 1000,
  graceMs: 150,
  workerStackSizeMb: 8,
  workerYoungGenerationMb: 64,
  workerOldGenerationMb: 128,
  recycleWorkerAfterWasmBytes: 64 * 1024 * 1024,
});

const MiB = 1024 * 1024;
/** What a process holds besides its sandbox pool (Node, Nest, drivers, buffers): an allowance, measured ~150 MB idle. */
export const PROCESS_BASE_BYTES = 256 * MiB;
/** A worker thread's V8 isolate and code besides its heaps (measured ~10 MB). */
export const WORKER_ISOLATE_BYTES = 16 * MiB;

/**
 * The resident memory a process with this pool stays below, whatever its scripts do (docs/operations.md,
 * "Sandbox memory"): P + N x (isolate + young generation + old generation + shared compiler module + engine budget).
 */
export function processMemoryBound(options: SandboxPoolOptions & { size: number }): { perWorkerBytes: number; processBytes: number } {
  const d = SANDBOX_POOL_DEFAULTS;
  const perWorkerBytes =
    WORKER_ISOLATE_BYTES +
    (options.workerYoungGenerationMb ?? d.workerYoungGenerationMb) * MiB +
    (options.workerOldGenerationMb ?? d.workerOldGenerationMb) * MiB +
    (options.recycleWorkerAfterWasmBytes ?? d.recycleWorkerAfterWasmBytes) +
    (options.engineMemoryPerWorkerBytes ?? d.engineMemoryPerWorkerBytes);
  return { perWorkerBytes, processBytes: PROCESS_BASE_BYTES + options.size * perWorkerBytes };
}

function emptyMetrics() {
  return { duration_ms: 0, memory_used_bytes: 0, api_call_count: 0 };
}

function toExecutionResult(raw: RawRunResult): ExecutionResult {
  let output: unknown = null;
  if (raw.status === 'completed' && raw.outputJson !== null) output = JSON.parse(raw.outputJson);
  return { status: raw.status, output, error: raw.error, logs: raw.logs, metrics: raw.metrics };
}

function failed(error: string, status: ExecutionResult['status'] = 'failed', startedAt?: number): ExecutionResult {
  return {
    status,
    output: null,
    error,
    logs: [],
    metrics: { ...emptyMetrics(), duration_ms: startedAt === undefined ? 0 : Math.max(0, Date.now() - startedAt) },
  };
}

export class SandboxPool {
  readonly size: number;
  private readonly maxQueued: number;
  private readonly maxInFlight: number;
  private readonly graceMs: number;
  private readonly stackMb: number;
  private readonly youngMb: number;
  private readonly recycleWasmBytes: number;
  private readonly workerFile?: string;
  private readonly slots: Slot[] = [];
  private readonly draining = new Set<Slot>();
  private readonly queue = new FairQueue<Task>();
  private readonly maxQueuedRuns: number;
  private readonly enginesPerWorker: number;
  private readonly engineMemoryPerWorker: number;
  private readonly oldGenerationMb: number;
  /** When each tenant last queued or finished a task (tenants seen within TENANT_ACTIVE_MS). */
  private readonly tenantSeen = new Map<string, number>();
  private readonly tenantInFlight = new Map<string, number>();
  private waitingForSlotCount = 0;
  /** Average wall time of a run (ms), for the Retry-After of SandboxBusyError. */
  private averageRunMs = 50;
  private readonly rateLimiter = new ApiRateLimiter();
  private readonly running = new Map<string, number>();
  private readonly waitingForSlot = new Map<string, (() => void)[]>();
  private readonly sourceKeys = new Map<string, string>();
  /** Runs queued or running, by the execution id their caller gave (cancel). */
  private readonly byExecution = new Map<string, Extract<Task, { kind: 'run' }>>();
  private nextId = 1;
  private watchdog?: NodeJS.Timeout;
  private closed = false;
  private replaced = 0;
  private startupFailures = 0;
  /** Set when workers keep dying before they are ready: the pool then fails tasks instead of spinning. */
  private broken?: string;

  constructor(options: SandboxPoolOptions = {}) {
    this.size = Math.max(1, Math.floor(options.size ?? availableParallelism()));
    const d = SANDBOX_POOL_DEFAULTS;
    this.maxQueued = Math.max(1, options.maxQueuedPerWorker ?? d.maxQueuedPerWorker);
    this.enginesPerWorker = Math.max(1, Math.floor(options.maxEnginesPerWorker ?? d.maxEnginesPerWorker));
    this.engineMemoryPerWorker = options.engineMemoryPerWorkerBytes ?? d.engineMemoryPerWorkerBytes;
    this.maxInFlight = Math.max(this.maxQueued, options.maxInFlightPerWorker ?? this.enginesPerWorker);
    this.maxQueuedRuns = Math.max(0, Math.floor(options.maxQueuedRuns ?? d.maxQueuedRuns));
    this.oldGenerationMb = options.workerOldGenerationMb ?? d.workerOldGenerationMb;
    this.graceMs = options.graceMs ?? d.graceMs;
    this.stackMb = options.workerStackSizeMb ?? d.workerStackSizeMb;
    this.youngMb = options.workerYoungGenerationMb ?? d.workerYoungGenerationMb;
    this.workerFile = options.workerFile;
    this.recycleWasmBytes = options.recycleWorkerAfterWasmBytes ?? d.recycleWorkerAfterWasmBytes;
    for (let i = 0; i < this.size; i++) this.slots.push(this.spawn());
  }

  /** Resolves once every worker has loaded QuickJS (optional: tasks queue until then). */
  async ready(): Promise<void> {
    while (!this.closed && this.slots.some((s) => !s.ready)) await new Promise((r) => setTimeout(r, 5));
  }

  stats(): SandboxPoolStats {
    let inFlight = 0;
    for (const slot of [...this.slots, ...this.draining]) inFlight += slot.tasks.size;
    return { size: this.size, ready: this.slots.filter((s) => s.ready).length, queued: this.queue.size, inFlight, replaced: this.replaced };
  }

  /** Compiles a script in a worker without running it. */
  validate(source: string): Promise<ValidationResult> {
    if (this.closed) return Promise.reject(new Error('the sandbox pool is closed'));
    const busy = this.busyError();
    if (busy) return Promise.reject(busy);
    return new Promise<ValidationResult>((resolve, reject) => {
      this.enqueue({ kind: 'validate', id: this.nextId++, tenant: VALIDATION_TENANT, source: String(source), resolve, reject });
    });
  }

  /**
   * Runs a script; never rejects for anything the script does (see ExecutionResult.status). Rejects
   * at once with SandboxBusyError when maxQueuedRuns runs are already waiting.
   */
  async execute(request: ExecuteRequest): Promise<ExecutionResult> {
    if (this.closed) throw new Error('the sandbox pool is closed');
    if (typeof request?.source !== 'string') throw new TypeError('execute: source must be a string');
    if (typeof request.tenantId !== 'string' || !request.tenantId) throw new TypeError('execute: tenantId is required');
    const busy = this.busyError();
    if (busy) throw busy;
    let contextJson: string;
    try {
      contextJson = JSON.stringify(request.context ?? {});
    } catch (error) {
      return failed(`the context is not JSON-serialisable: ${(error as Error).message}`);
    }
    const limits = resolveLimits(request.limits);
    // Dry runs (fetchImpl) get budgets of their own: trying a script out never eats its live API budget.
    const apiKey = `${request.fetchImpl ? 'dry\u0000' : ''}${request.tenantId}\u0000${request.scriptId ?? this.sourceKey(request.source)}`;
    const job: RunJobMessage = {
      source: request.source,
      contextJson,
      limits,
      allowedHosts: Array.isArray(request.allowedHosts) ? request.allowedHosts.filter((h) => typeof h === 'string') : [],
      allowedPorts: Array.isArray(request.allowedPorts) ? request.allowedPorts.filter((p) => Number.isInteger(p) && p > 0 && p < 65536) : [],
      apiKey,
      proxyFetch: typeof request.fetchImpl === 'function',
    };
    const scriptKey = request.scriptId === undefined || request.scriptSlotHeld ? undefined : apiKey;
    if (scriptKey !== undefined) await this.acquireScriptSlot(scriptKey, limits.max_concurrent_runs);
    const executionId = typeof request.executionId === 'string' ? request.executionId : undefined;
    try {
      const startedAt = Date.now();
      const result = await new Promise<ExecutionResult>((resolve) => {
        const task = { kind: 'run' as const, id: this.nextId++, tenant: request.tenantId, job, fetchImpl: request.fetchImpl, scriptKey, executionId, resolve, startedAt };
        if (executionId !== undefined) this.byExecution.set(executionId, task);
        this.enqueue(task);
      });
      this.averageRunMs += (Date.now() - startedAt - this.averageRunMs) / 32;
      return result;
    } finally {
      if (executionId !== undefined) this.byExecution.delete(executionId);
      if (scriptKey !== undefined) this.releaseScriptSlot(scriptKey);
    }
  }

  /**
   * Ends the run of `executionId` (its ExecuteRequest's `executionId`) as `cancelled`: one still queued
   * never starts; one in a worker is interrupted by replacing that worker, as for a stuck run (QuickJS
   * is stopped at once, whatever it is doing; the worker's other runs start again elsewhere unless they
   * had sent a fetch that changes something). Answers false when no such run is queued or running here.
   */
  cancel(executionId: string): boolean {
    const task = this.byExecution.get(executionId);
    if (!task || task.cancelled) return false;
    task.cancelled = true;
    this.byExecution.delete(executionId);
    const slot = [...this.slots, ...this.draining].find((s) => s.tasks.has(task.id));
    if (slot) {
      this.replace(slot, `a run on the same worker (execution ${executionId}) was cancelled`, task.id);
    } else {
      // Still queued: answered now, dropped when the queue hands it out.
      task.resolve(failed('cancelled before it started', 'cancelled', task.startedAt));
    }
    return true;
  }

  /** The error execute() rejects with while the queue is full, or undefined. */
  private busyError(): SandboxBusyError | undefined {
    const waiting = this.queue.size + this.waitingForSlotCount;
    if (waiting < this.maxQueuedRuns) return undefined;
    // Every worker takes maxQueued runs at a time: the queue drains at about size x maxQueued per average run.
    const drainMs = (waiting * Math.max(1, this.averageRunMs)) / (this.size * this.maxQueued);
    return new SandboxBusyError(Math.min(60, Math.max(1, Math.ceil(drainMs / 1000))), waiting);
  }

  /** Terminates the workers; queued and running tasks end as failed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.watchdog) clearInterval(this.watchdog);
    const tasks: Task[] = this.queue.drain();
    const all = [...this.slots, ...this.draining];
    this.draining.clear();
    for (const slot of all) {
      slot.dead = true;
      tasks.push(...slot.tasks.values());
      slot.tasks.clear();
    }
    for (const task of tasks) this.answerLost(task, 'the sandbox pool was closed before the run finished', 'failed');
    await Promise.all(all.map((s) => s.worker.terminate().catch(() => 0)));
  }

  // ---- per-script bookkeeping (this thread is the single source of truth) ----

  private sourceKey(source: string): string {
    let key = this.sourceKeys.get(source);
    if (key === undefined) {
      key = `src:${createHash('sha256').update(source).digest('hex').slice(0, 32)}`;
      if (this.sourceKeys.size >= 1000) this.sourceKeys.clear();
      this.sourceKeys.set(source, key);
    }
    return key;
  }

  private async acquireScriptSlot(key: string, limit: number): Promise<void> {
    const now = this.running.get(key) ?? 0;
    if (now < limit) {
      this.running.set(key, now + 1);
      return;
    }
    this.waitingForSlotCount++;
    await new Promise<void>((resolve) => {
      const waiters = this.waitingForSlot.get(key) ?? [];
      waiters.push(resolve);
      this.waitingForSlot.set(key, waiters);
    });
    this.waitingForSlotCount--;
  }

  private releaseScriptSlot(key: string): void {
    const waiters = this.waitingForSlot.get(key);
    const next = waiters?.shift();
    if (waiters && waiters.length === 0) this.waitingForSlot.delete(key);
    if (next) return next(); // the slot passes straight to the next waiter
    const now = (this.running.get(key) ?? 1) - 1;
    if (now <= 0) this.running.delete(key);
    else this.running.set(key, now);
  }

  // ---- queue and dispatch ----

  private enqueue(task: Task, front = false): void {
    if (this.broken) return this.answerLost(task, this.broken, 'failed');
    this.tenantSeen.set(task.tenant, Date.now());
    this.queue.push(task.tenant, task, front);
    this.dispatch();
  }

  private dispatch(): void {
    if (this.queue.size > 0) {
      const now = Date.now();
      for (;;) {
        const next = this.queue.take((tenant) => this.workerFor(tenant, now));
        if (!next) break;
        if (next.item.kind === 'run' && next.item.cancelled) continue; // answered when cancelled
        this.send(next.accepted, next.item);
      }
    }
    this.updateRefs();
  }

  /**
   * The least-loaded worker with room for a task of `tenant`. While another tenant is active, a tenant
   * holds at most size - 1 workers (it may add to those it holds), so the others always find one
   * that its CPU-bound runs do not occupy.
   */
  private workerFor(tenant: string, now: number): Slot | undefined {
    let held = -1;
    if (this.size > 1 && this.othersActive(tenant, now)) {
      held = 0;
      for (const slot of this.slots) if (slot.tenants.has(tenant)) held++;
      if (held > this.size - 1) return undefined;
    }
    const capped = held === this.size - 1;
    let best: Slot | undefined;
    let bestLoad = Infinity;
    for (const slot of this.slots) {
      if (!slot.ready || slot.dead || slot.tasks.size >= this.maxInFlight) continue;
      if (capped && !slot.tenants.has(tenant)) continue;
      const load = slot.tasks.size - slot.parked;
      if (load < this.maxQueued && load < bestLoad) {
        best = slot;
        bestLoad = load;
      }
    }
    return best;
  }

  /** Whether a tenant other than `tenant` has tasks queued or running, or had within TENANT_ACTIVE_MS. */
  private othersActive(tenant: string, now: number): boolean {
    for (const [other, seen] of this.tenantSeen) {
      if (other === tenant) continue;
      if (now - seen <= TENANT_ACTIVE_MS || this.tenantInFlight.has(other) || this.queue.has(other)) return true;
      this.tenantSeen.delete(other);
    }
    return false;
  }

  /** Workers keep the process alive while the pool has work, and not when it is idle (no close() needed to exit). */
  private updateRefs(): void {
    let busy = this.queue.size > 0;
    if (!busy) for (const slot of this.slots) if (slot.tasks.size > 0) busy = true;
    if (!busy) for (const slot of this.draining) if (slot.tasks.size > 0) busy = true;
    for (const slot of [...this.slots, ...this.draining]) {
      if (slot.dead || slot.refed === busy) continue;
      slot.refed = busy;
      if (busy) slot.worker.ref();
      else slot.worker.unref();
    }
  }

  private send(slot: Slot, task: Task): void {
    const seq = ++slot.seq;
    slot.tasks.set(task.id, Object.assign(task, { seq }));
    slot.tenants.set(task.tenant, (slot.tenants.get(task.tenant) ?? 0) + 1);
    this.tenantInFlight.set(task.tenant, (this.tenantInFlight.get(task.tenant) ?? 0) + 1);
    if (task.kind === 'run') slot.outbox.push({ t: 'run', id: task.id, seq, job: task.job });
    else slot.outbox.push({ t: 'validate', id: task.id, seq, source: task.source });
    this.post(slot);
    this.armWatchdog();
  }

  /** Takes `task` off `slot`'s books (answered, bounced or lost). */
  private untrack(slot: Slot, task: Task): void {
    slot.tasks.delete(task.id);
    const onSlot = (slot.tenants.get(task.tenant) ?? 1) - 1;
    if (onSlot > 0) slot.tenants.set(task.tenant, onSlot);
    else slot.tenants.delete(task.tenant);
    const inFlight = (this.tenantInFlight.get(task.tenant) ?? 1) - 1;
    if (inFlight > 0) this.tenantInFlight.set(task.tenant, inFlight);
    else this.tenantInFlight.delete(task.tenant);
    this.tenantSeen.set(task.tenant, Date.now());
  }

  private post(slot: Slot): void {
    if (slot.flushQueued) return;
    slot.flushQueued = true;
    queueMicrotask(() => {
      slot.flushQueued = false;
      if (slot.dead || slot.outbox.length === 0) return;
      const batch = slot.outbox;
      slot.outbox = [];
      slot.worker.postMessage(batch);
    });
  }

  private reply(slot: Slot, message: ToWorker): void {
    if (slot.dead) return;
    slot.outbox.push(message);
    this.post(slot);
  }

  // ---- workers ----

  private spawn(): Slot {
    const control = new Float64Array(new SharedArrayBuffer(CONTROL.length * Float64Array.BYTES_PER_ELEMENT));
    const worker = spawnSandboxWorker({
      workerFile: this.workerFile,
      workerData: {
        control: control.buffer,
        recycleWasmBytes: this.recycleWasmBytes,
        maxEngines: this.enginesPerWorker,
        engineMemoryBytes: this.engineMemoryPerWorker,
      },
      resourceLimits: { stackSizeMb: this.stackMb, maxYoungGenerationSizeMb: this.youngMb, maxOldGenerationSizeMb: this.oldGenerationMb },
    });
    const slot: Slot = {
      worker,
      control,
      draining: false,
      ready: false,
      dead: false,
      seq: 0,
      parked: 0,
      tasks: new Map(),
      tenants: new Map(),
      outbox: [],
      flushQueued: false,
      refed: true,
    };
    worker.on('message', (batch: FromWorker[]) => {
      for (const message of batch) this.onMessage(slot, message);
      if (slot.tasks.size === 0 && slot.draining && !slot.dead) this.retireDrained(slot);
      this.dispatch();
    });
    worker.on('error', (error) => this.replace(slot, `the sandbox worker crashed: ${error.message}`));
    worker.on('exit', (code) => {
      if (!slot.dead) this.replace(slot, `the sandbox worker exited (code ${code})`);
    });
    slot.refed = true;
    this.updateRefs();
    return slot;
  }

  private onMessage(slot: Slot, message: FromWorker): void {
    if (slot.dead) return;
    switch (message.t) {
      case 'ready':
        slot.ready = true;
        this.startupFailures = 0;
        return;
      case 'result': {
        const task = slot.tasks.get(message.id);
        if (!task || task.kind !== 'run') return;
        this.untrack(slot, task);
        let result: ExecutionResult;
        try {
          result = toExecutionResult(message.result);
        } catch (error) {
          result = failed(`the sandbox returned an unreadable result: ${(error as Error).message}`);
        }
        task.resolve(result);
        return;
      }
      case 'validated': {
        const task = slot.tasks.get(message.id);
        if (!task || task.kind !== 'validate') return;
        this.untrack(slot, task);
        task.resolve(message.result);
        return;
      }
      case 'bounce': {
        const task = slot.tasks.get(message.id);
        if (!task) return;
        this.untrack(slot, task);
        this.enqueue(task, true);
        return;
      }
      case 'parked':
        slot.parked = message.count;
        return;
      case 'acquire': {
        const task = slot.tasks.get(message.id);
        if (task?.kind === 'run' && !SAFE_METHODS.has(message.method)) task.sentUnsafeFetch = true;
        this.reply(slot, { t: 'reply', rid: message.rid, ok: true, value: this.rateLimiter.tryAcquire(message.key, message.limit) });
        return;
      }
      case 'fetch': {
        const task = slot.tasks.get(message.id);
        if (!task || task.kind !== 'run' || !task.fetchImpl) {
          this.reply(slot, { t: 'reply', rid: message.rid, ok: false, error: 'fetch is not available' });
          return;
        }
        void this.proxyFetch(task.fetchImpl, message.request, message.timeoutMs).then(
          (value) => this.reply(slot, { t: 'reply', rid: message.rid, ok: true, value }),
          (error: unknown) => this.reply(slot, { t: 'reply', rid: message.rid, ok: false, error: error instanceof Error ? error.message : String(error) }),
        );
        return;
      }
      case 'retire':
        if (message.graceful) this.drain(slot);
        else this.replace(slot, `the sandbox worker was replaced after an engine fault (${message.reason}) in another run`);
        return;
    }
  }

  /** Calls the caller's fetchImpl (dry runs) with the sandbox's timeout and response rules. */
  private async proxyFetch(fetchImpl: FetchImpl, request: SandboxFetchRequest, timeoutMs: number): Promise<ProxiedFetchResponse> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`fetch failed: no response within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const response = await Promise.race([Promise.resolve().then(() => fetchImpl(request)), timeout]);
      const status = Number(response?.status);
      if (!Number.isInteger(status) || status < 100 || status > 599) throw new Error('fetch failed: the dry-run fetch answered an invalid status');
      const body = typeof response.body === 'string' ? response.body : response.body === undefined || response.body === null ? '' : JSON.stringify(response.body);
      if (Buffer.byteLength(body) > FETCH_MAX_RESPONSE_BYTES) throw new Error(`fetch failed: response body is over ${FETCH_MAX_RESPONSE_BYTES} bytes`);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(response.headers ?? {})) headers[k.toLowerCase()] = String(v);
      return { status, headers, body, url: request.url };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops giving `slot` work, starts its replacement now, and ends it when its tasks are answered. */
  private drain(slot: Slot): void {
    if (slot.draining || slot.dead) return;
    slot.draining = true;
    const index = this.slots.indexOf(slot);
    if (index >= 0) this.slots[index] = this.spawn();
    this.draining.add(slot);
    this.replaced++;
    if (slot.tasks.size === 0) this.retireDrained(slot);
  }

  private retireDrained(slot: Slot): void {
    this.draining.delete(slot);
    slot.dead = true;
    void slot.worker.terminate().catch(() => 0);
  }

  /**
   * Terminates `slot`'s worker, answers or re-queues its tasks, and starts a replacement. The stuck
   * run ends as a timeout; the others start again elsewhere unless they had sent a fetch other than
   * GET/HEAD/OPTIONS (running them again would repeat it) or already lost a worker MAX_REQUEUES times
   * (they may be what kills it).
   */
  private replace(slot: Slot, reason: string, stuckTaskId?: number): void {
    if (slot.dead) return;
    slot.dead = true;
    if (slot.draining) this.draining.delete(slot);
    else this.replaced++;
    const tasks = [...slot.tasks.values()].sort((a, b) => a.seq - b.seq);
    for (const task of tasks) this.untrack(slot, task);
    void slot.worker.terminate().catch(() => 0);
    if (!slot.ready && ++this.startupFailures >= 3) this.broken = `sandbox workers fail to start: ${reason}`;
    const index = this.slots.indexOf(slot);
    if (!this.closed && !this.broken && index >= 0 && !slot.draining) this.slots[index] = this.spawn();
    const requeue: Task[] = [];
    for (const task of tasks) {
      if (task.id === stuckTaskId && task.kind === 'run' && task.cancelled) {
        task.resolve(failed('cancelled while it ran: its worker was stopped', 'cancelled', task.startedAt));
      } else if (task.id === stuckTaskId && task.kind === 'run') {
        task.resolve(
          failed(
            `timeout: the run exceeded max_execution_time_ms (${task.job.limits.max_execution_time_ms} ms) inside an operation QuickJS cannot interrupt; its worker was replaced`,
            'timeout',
            task.startedAt,
          ),
        );
      } else if (task.kind === 'run' && task.sentUnsafeFetch) {
        this.answerLost(task, `aborted: ${reason} (not run again: the run had already sent a fetch that may have changed something)`, 'failed');
      } else if ((task.requeues ?? 0) >= MAX_REQUEUES) {
        this.answerLost(task, `aborted: ${reason} (its worker was lost ${MAX_REQUEUES + 1} times)`, 'failed');
      } else {
        task.requeues = (task.requeues ?? 0) + 1;
        requeue.push(task);
      }
    }
    for (let i = requeue.length - 1; i >= 0; i--) this.enqueue(requeue[i], true);
    if (this.broken) this.failQueued(this.broken);
    this.dispatch();
  }

  private failQueued(reason: string): void {
    const tasks = this.queue.drain();
    for (const task of tasks) this.answerLost(task, reason, 'failed');
  }

  private answerLost(task: Task, error: string, status: ExecutionResult['status']): void {
    if (task.kind === 'run') task.resolve(failed(error, status, task.startedAt));
    else task.reject(new Error(error));
  }

  private armWatchdog(): void {
    if (this.watchdog || this.closed) return;
    this.watchdog = setInterval(() => this.checkWorkers(), WATCHDOG_INTERVAL_MS);
    this.watchdog.unref();
  }

  private checkWorkers(): void {
    const now = Date.now();
    let busy = false;
    for (const slot of [...this.slots, ...this.draining]) {
      if (slot.dead) continue;
      if (slot.tasks.size > 0) busy = true;
      const deadline = slot.control[CONTROL.sliceDeadline];
      if (deadline > 0 && now > deadline + this.graceMs) {
        this.replace(slot, 'another run on the same worker got stuck past its deadline', slot.control[CONTROL.sliceTask]);
      }
    }
    if (this.queue.size > 0) this.dispatch();
    if (!busy && this.queue.size === 0 && this.watchdog) {
      clearInterval(this.watchdog);
      this.watchdog = undefined;
    }
  }
}
