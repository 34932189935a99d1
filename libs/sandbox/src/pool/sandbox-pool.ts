// The pool of sandbox worker threads. It queues tasks, hands each to the least-loaded worker, keeps the
// per-script API budget and concurrency in one place (this thread), answers dry-run fetches with the
// caller's fetchImpl, and replaces a worker that got stuck (a run not back from QuickJS by its deadline
// plus a grace period: e.g. catastrophic regex backtracking, which QuickJS cannot interrupt) or whose
// engine faulted. Tasks a lost worker had not started are queued again; started ones are answered.
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { RawRunResult } from '../engine/script-runner';
import { resolveLimits } from '../limits';
import { ApiRateLimiter } from '../net/api-rate-limiter';
import { FETCH_MAX_RESPONSE_BYTES } from '../net/guarded-fetch';
import type { ExecuteRequest, ExecutionResult, FetchImpl, SandboxFetchRequest, ValidationResult } from '../types';
import { CONTROL, type FromWorker, type ProxiedFetchResponse, type RunJobMessage, type ToWorker } from './protocol';
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
  /** All tasks one worker holds, waiting on I/O included. Default 64. */
  maxInFlightPerWorker?: number;
  /** How long past a run's deadline a worker may stay inside QuickJS before it is terminated. Default 1000 ms. */
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
   * when its last run is answered. Default 1 GiB. (A run's engine is dropped when its memory grew past 16 MiB.)
   */
  recycleWorkerAfterWasmBytes?: number;
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

type Task =
  | { kind: 'run'; id: number; job: RunJobMessage; fetchImpl?: FetchImpl; scriptKey?: string; resolve: (r: ExecutionResult) => void; startedAt: number }
  | { kind: 'validate'; id: number; source: string; resolve: (r: ValidationResult) => void; reject: (e: Error) => void };

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
  outbox: ToWorker[];
  flushQueued: boolean;
  /** Whether the worker keeps the process alive (only while the pool has work). */
  refed: boolean;
}

const WATCHDOG_INTERVAL_MS = 100;

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
  private readonly queue: Task[] = [];
  private queueHead = 0;
  private readonly rateLimiter = new ApiRateLimiter();
  private readonly running = new Map<string, number>();
  private readonly waitingForSlot = new Map<string, (() => void)[]>();
  private readonly sourceKeys = new Map<string, string>();
  private nextId = 1;
  private watchdog?: NodeJS.Timeout;
  private closed = false;
  private replaced = 0;
  private startupFailures = 0;
  /** Set when workers keep dying before they are ready: the pool then fails tasks instead of spinning. */
  private broken?: string;

  constructor(options: SandboxPoolOptions = {}) {
    this.size = Math.max(1, Math.floor(options.size ?? availableParallelism()));
    this.maxQueued = Math.max(1, options.maxQueuedPerWorker ?? 2);
    this.maxInFlight = Math.max(this.maxQueued, options.maxInFlightPerWorker ?? 64);
    this.graceMs = options.graceMs ?? 1000;
    this.stackMb = options.workerStackSizeMb ?? 8;
    this.youngMb = options.workerYoungGenerationMb ?? 64;
    this.workerFile = options.workerFile;
    this.recycleWasmBytes = options.recycleWorkerAfterWasmBytes ?? 1024 * 1024 * 1024;
    for (let i = 0; i < this.size; i++) this.slots.push(this.spawn());
  }

  /** Resolves once every worker has loaded QuickJS (optional: tasks queue until then). */
  async ready(): Promise<void> {
    while (!this.closed && this.slots.some((s) => !s.ready)) await new Promise((r) => setTimeout(r, 5));
  }

  stats(): SandboxPoolStats {
    let inFlight = 0;
    for (const slot of [...this.slots, ...this.draining]) inFlight += slot.tasks.size;
    return { size: this.size, ready: this.slots.filter((s) => s.ready).length, queued: this.queue.length - this.queueHead, inFlight, replaced: this.replaced };
  }

  /** Compiles a script in a worker without running it. */
  validate(source: string): Promise<ValidationResult> {
    if (this.closed) return Promise.reject(new Error('the sandbox pool is closed'));
    return new Promise<ValidationResult>((resolve, reject) => {
      this.enqueue({ kind: 'validate', id: this.nextId++, source: String(source), resolve, reject });
    });
  }

  /** Runs a script; never rejects for anything the script does (see ExecutionResult.status). */
  async execute(request: ExecuteRequest): Promise<ExecutionResult> {
    if (this.closed) throw new Error('the sandbox pool is closed');
    if (typeof request?.source !== 'string') throw new TypeError('execute: source must be a string');
    if (typeof request.tenantId !== 'string' || !request.tenantId) throw new TypeError('execute: tenantId is required');
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
      apiKey,
      proxyFetch: typeof request.fetchImpl === 'function',
    };
    const scriptKey = request.scriptId === undefined ? undefined : apiKey;
    if (scriptKey !== undefined) await this.acquireScriptSlot(scriptKey, limits.max_concurrent_runs);
    try {
      return await new Promise<ExecutionResult>((resolve) => {
        this.enqueue({ kind: 'run', id: this.nextId++, job, fetchImpl: request.fetchImpl, scriptKey, resolve, startedAt: Date.now() });
      });
    } finally {
      if (scriptKey !== undefined) this.releaseScriptSlot(scriptKey);
    }
  }

  /** Terminates the workers; queued and running tasks end as failed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.watchdog) clearInterval(this.watchdog);
    const tasks: Task[] = this.queue.slice(this.queueHead);
    this.queue.length = 0;
    this.queueHead = 0;
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
    await new Promise<void>((resolve) => {
      const waiters = this.waitingForSlot.get(key) ?? [];
      waiters.push(resolve);
      this.waitingForSlot.set(key, waiters);
    });
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
    if (front) {
      if (this.queueHead > 0) this.queue[--this.queueHead] = task;
      else this.queue.unshift(task);
    } else {
      this.queue.push(task);
    }
    this.dispatch();
  }

  private dispatch(): void {
    while (this.queueHead < this.queue.length) {
      let best: Slot | undefined;
      let bestLoad = Infinity;
      for (const slot of this.slots) {
        if (!slot.ready || slot.dead || slot.tasks.size >= this.maxInFlight) continue;
        const load = slot.tasks.size - slot.parked;
        if (load < this.maxQueued && load < bestLoad) {
          best = slot;
          bestLoad = load;
        }
      }
      if (!best) break;
      const task = this.queue[this.queueHead];
      this.queue[this.queueHead++] = undefined as never;
      this.send(best, task);
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    this.updateRefs();
  }

  /** Workers keep the process alive while the pool has work, and not when it is idle (no close() needed to exit). */
  private updateRefs(): void {
    let busy = this.queueHead < this.queue.length;
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
    if (task.kind === 'run') slot.outbox.push({ t: 'run', id: task.id, seq, job: task.job });
    else slot.outbox.push({ t: 'validate', id: task.id, seq, source: task.source });
    this.post(slot);
    this.armWatchdog();
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
      workerData: { control: control.buffer, recycleWasmBytes: this.recycleWasmBytes },
      resourceLimits: { stackSizeMb: this.stackMb, maxYoungGenerationSizeMb: this.youngMb },
    });
    const slot: Slot = { worker, control, draining: false, ready: false, dead: false, seq: 0, parked: 0, tasks: new Map(), outbox: [], flushQueued: false, refed: true };
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
        slot.tasks.delete(message.id);
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
        slot.tasks.delete(message.id);
        task.resolve(message.result);
        return;
      }
      case 'bounce': {
        const task = slot.tasks.get(message.id);
        if (!task) return;
        slot.tasks.delete(message.id);
        this.enqueue(task, true);
        return;
      }
      case 'parked':
        slot.parked = message.count;
        return;
      case 'acquire':
        this.reply(slot, { t: 'reply', rid: message.rid, ok: true, value: this.rateLimiter.tryAcquire(message.key, message.limit) });
        return;
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

  /** Terminates `slot`'s worker, answers or re-queues its tasks, and starts a replacement. */
  private replace(slot: Slot, reason: string, stuckTaskId?: number): void {
    if (slot.dead) return;
    slot.dead = true;
    if (slot.draining) this.draining.delete(slot);
    else this.replaced++;
    const startedSeq = slot.control[CONTROL.startedSeq];
    const tasks = [...slot.tasks.values()].sort((a, b) => a.seq - b.seq);
    slot.tasks.clear();
    void slot.worker.terminate().catch(() => 0);
    if (!slot.ready && ++this.startupFailures >= 3) this.broken = `sandbox workers fail to start: ${reason}`;
    const index = this.slots.indexOf(slot);
    if (!this.closed && !this.broken && index >= 0 && !slot.draining) this.slots[index] = this.spawn();
    const requeue: Task[] = [];
    for (const task of tasks) {
      if (task.seq > startedSeq) requeue.push(task);
      else if (task.id === stuckTaskId && task.kind === 'run') {
        task.resolve(
          failed(
            `timeout: the run exceeded max_execution_time_ms (${task.job.limits.max_execution_time_ms} ms) inside an operation QuickJS cannot interrupt; its worker was replaced`,
            'timeout',
            task.startedAt,
          ),
        );
      } else this.answerLost(task, `aborted: ${reason}`, 'failed');
    }
    for (let i = requeue.length - 1; i >= 0; i--) this.enqueue(requeue[i], true);
    if (this.broken) this.failQueued(this.broken);
    this.dispatch();
  }

  private failQueued(reason: string): void {
    const tasks = this.queue.slice(this.queueHead);
    this.queue.length = 0;
    this.queueHead = 0;
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
    if (this.queueHead < this.queue.length) this.dispatch();
    if (!busy && this.queueHead >= this.queue.length && this.watchdog) {
      clearInterval(this.watchdog);
      this.watchdog = undefined;
    }
  }
}
