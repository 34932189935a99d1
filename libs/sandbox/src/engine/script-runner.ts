// Runs ONE script execution on a snapshot engine (engine/snapshot-engine.ts): a QuickJS runtime and
// context in the exact state they had before any script ran, put back into that state when the run
// ends. No engine state of a run survives it: no globals, prototypes, atoms, jobs or heap. Each run's
// memory limit and interrupt deadline are its own, and runs of one worker that wait on I/O at the same
// time each hold an engine of their own. This is the same code in a worker thread and in the calling
// thread (tests); the pool only moves requests and results around it.
import { performance } from 'node:perf_hooks';
import type { QuickJSContext, QuickJSDeferredPromise, QuickJSHandle, QuickJSRuntime } from 'quickjs-emscripten';
import { EngineMemoryFullError, type EngineShelf, type EngineTenant, type SnapshotEngine } from './snapshot-engine';
import { newFetchResponse, SCRIPT_FILENAME, type ConsoleLevel, type FetchCall } from '../host/host-api';
import type { ResourceLimits } from '../limits';
import type { ExecutionStatus, LogEntry, SandboxFetchRequest, SandboxFetchResponse } from '../types';

export const MAX_LOG_LINES = 1000;
export const MAX_LOG_BYTES = 64 * 1024;
export const TRUNCATED_MARKER = '[truncated]';
const MAX_ERROR_CHARS = 4000;
// QuickJS's own memory limit does not hold in this WASM build: its allocator counts malloc_usable_size,
// which Emscripten reports as 0, so every allocation counts 8 bytes whatever its size (a script piled
// up forty 50 MB strings under a 64 MiB limit). The limit is enforced on the engine's heap instead
// (snapshot-engine.ts): its WASM memory cannot grow past the run's ceiling (a large allocation fails
// inside QuickJS, which throws "out of memory"), and the heap's break, one word of memory, is compared
// with max_memory_bytes at every interrupt and when the run ends.

export interface RunJob {
  source: string;
  /** The script's `ctx`, already serialised (it is parsed inside the VM). */
  contextJson: string;
  limits: ResourceLimits;
}

/** What a run may ask of the host; implemented by the worker (or directly by tests). */
export interface RunHost {
  fetch(request: SandboxFetchRequest, control: { timeoutMs: number; signal: AbortSignal }): Promise<SandboxFetchResponse & { url?: string }>;
  /** Called before the thread enters QuickJS for this run, with the time it must be back by. */
  vmEnter?(deadline: number): void;
  /** Called when the thread is out of QuickJS again. */
  vmLeave?(): void;
  /** The run waits on host I/O (true) or is runnable again (false). */
  parked?(on: boolean): void;
}

export interface RawRunResult {
  status: ExecutionStatus;
  /** The return value as JSON text (parsed by whoever hands the result to the caller). */
  outputJson: string | null;
  error: string | null;
  logs: LogEntry[];
  metrics: { duration_ms: number; memory_used_bytes: number; api_call_count: number };
  /**
   * The WASM engine itself failed (a host stack overflow or a trap inside QuickJS). Its memory can no
   * longer be trusted: its engine was dropped, not reset.
   */
  enginePoisoned?: boolean;
}

type Outcome = { status: ExecutionStatus; outputJson: string | null; error: string | null };

// The project's TS lib has no WebAssembly typings; the runtime always has the global.
const WasmRuntimeError = (globalThis as unknown as { WebAssembly: { RuntimeError: new () => Error } }).WebAssembly.RuntimeError;

/** Anything thrown by the WASM module itself rather than by QuickJS on behalf of the script. */
export function isEngineFault(error: unknown): boolean {
  return error instanceof RangeError || error instanceof WasmRuntimeError || (error instanceof Error && /abort\(|Aborted\(/.test(error.message));
}

class LogSink {
  readonly entries: LogEntry[] = [];
  private bytes = 0;
  open = true;

  write(level: ConsoleLevel, message: string): void {
    if (!this.open) return;
    const size = Buffer.byteLength(message);
    if (this.entries.length >= MAX_LOG_LINES || this.bytes + size > MAX_LOG_BYTES) {
      const room = MAX_LOG_BYTES - this.bytes;
      if (room > 0 && this.entries.length < MAX_LOG_LINES) {
        const cut = Buffer.from(message).subarray(0, room).toString('utf8').replace(/\uFFFD$/, '');
        this.entries.push({ level, message: cut, at: new Date().toISOString() });
      }
      this.entries.push({ level: 'warn', message: TRUNCATED_MARKER, at: new Date().toISOString() });
      this.open = false;
      return;
    }
    this.bytes += size;
    this.entries.push({ level, message, at: new Date().toISOString() });
  }
}

function outOfMemoryOutcome(limits: ResourceLimits): Outcome {
  return { status: 'failed', outputJson: null, error: `out of memory: the script exceeded max_memory_bytes (${limits.max_memory_bytes} bytes)` };
}

function timeoutOutcome(limits: ResourceLimits): Outcome {
  return { status: 'timeout', outputJson: null, error: `timeout: the run exceeded max_execution_time_ms (${limits.max_execution_time_ms} ms)` };
}

/** Maps QuickJS's own errors for a hit limit to a clear message; null for the script's own errors. */
function limitOutcome(name: string, message: string, limits: ResourceLimits): Outcome | null {
  if ((name === 'InternalError' && message === 'out of memory') || name === 'null') return outOfMemoryOutcome(limits);
  if ((name === 'InternalError' && message === 'stack overflow') || (name === 'RangeError' && message === 'Maximum call stack size exceeded')) {
    return { status: 'failed', outputJson: null, error: `stack overflow: recursion too deep (max_stack_size_bytes ${limits.max_stack_size_bytes})` };
  }
  if (name === 'InternalError' && message === 'interrupted') return timeoutOutcome(limits);
  return null;
}

// QuickJS prints `(script.js:N)` in frames (bare `(script.js)` for line 1) and `at script.js:N` for syntax errors.
const LINE_IN_STACK = new RegExp(`(?:\\(|at )${SCRIPT_FILENAME.replace('.', '\\.')}(?::(\\d+))?`);

/**
 * Executes `job` on an engine of `shelf`, then gives the engine back (reset, or dropped after an
 * engine fault). Never throws: every outcome, including an engine fault, is a result.
 */
export async function runScript(shelf: EngineShelf, job: RunJob, host: RunHost): Promise<RawRunResult> {
  let engine: SnapshotEngine;
  const ceiling = shelf.ceilingFor(job.limits.max_memory_bytes);
  try {
    engine = await shelf.take(ceiling);
  } catch (error) {
    const message = `sandbox error: no engine could be started: ${error instanceof Error ? error.message : String(error)}`;
    return { status: 'failed', outputJson: null, error: message, logs: [], metrics: { duration_ms: 0, memory_used_bytes: 0, api_call_count: 0 } };
  }
  const result = await new ScriptRun(engine, ceiling, job, host).run();
  shelf.give(engine, result.enginePoisoned === true);
  return result;
}

class ScriptRun implements EngineTenant {
  private readonly startedAt = performance.now();
  private readonly deadline: number;
  private readonly logs = new LogSink();
  private abort?: AbortController;
  private readonly outstanding = new Set<QuickJSDeferredPromise>();
  private readonly rt: QuickJSRuntime;
  private readonly vm: QuickJSContext;
  private readonly json: QuickJSHandle;
  private readonly parse: QuickJSHandle;
  private readonly stringify: QuickJSHandle;
  private interrupted = false;
  private memoryExceeded = false;
  private peakMemory = 0;
  /**
   * Bytes the host keeps for the run outside the engine (fetch response bodies, held until the run
   * ends for text()/json()): they count against max_memory_bytes like the heap.
   */
  private hostBytes = 0;
  private readonly engine: SnapshotEngine;
  private finished = false;
  private poisoned = false;
  private apiCalls = 0;
  private wake: (() => void) | null = null;

  constructor(
    engine: SnapshotEngine,
    ceiling: number,
    private readonly job: RunJob,
    private readonly host: RunHost,
  ) {
    this.deadline = Date.now() + job.limits.max_execution_time_ms;
    this.engine = engine;
    ({ rt: this.rt, vm: this.vm, json: this.json, parse: this.parse, stringify: this.stringify } = engine);
    engine.lease(this, ceiling);
  }

  async run(): Promise<RawRunResult> {
    let outcome: Outcome;
    this.host.vmEnter?.(this.deadline);
    try {
      outcome = await this.execute();
    } catch (error) {
      outcome = this.fault(error);
    }
    this.host.vmEnter?.(this.deadline);
    const memory = this.poisoned ? this.peakMemory : Math.max(this.memoryUsed(), this.peakMemory);
    if (!this.poisoned && (this.memoryExceeded || this.engine.memoryRefused || memory > this.job.limits.max_memory_bytes)) outcome = this.outOfMemory();
    this.finish();
    this.host.vmLeave?.();
    return {
      ...outcome,
      logs: this.logs.entries,
      metrics: { duration_ms: Math.round((performance.now() - this.startedAt) * 1000) / 1000, memory_used_bytes: memory, api_call_count: this.apiCalls },
      ...(this.poisoned ? { enginePoisoned: true } : {}),
    };
  }

  // ---- EngineTenant: the engine's interrupt handler and host API call these while this run holds it ----

  interrupt(): boolean {
    const now = Date.now();
    if (now > this.deadline) {
      this.interrupted = true;
      return true;
    }
    if (this.memoryUsed() > this.job.limits.max_memory_bytes || this.engine.memoryRefused) {
      this.memoryExceeded = this.interrupted = true;
      return true;
    }
    return false;
  }

  logOpen(): boolean {
    return this.logs.open;
  }

  log(level: ConsoleLevel, message: string): void {
    this.logs.write(level, message);
  }

  private fault(error: unknown): Outcome {
    if (error instanceof EngineMemoryFullError || this.engine.memoryRefused) {
      // Thrown by the host's own allocation: QuickJS may have been left mid-call, so the engine goes.
      this.poisoned = true;
      return this.outOfMemory();
    }
    if (isEngineFault(error)) {
      this.poisoned = true;
      return {
        status: 'failed',
        outputJson: null,
        error:
          error instanceof RangeError
            ? `stack overflow: recursion or nesting too deep for the sandbox (max_stack_size_bytes ${this.job.limits.max_stack_size_bytes})`
            : `sandbox engine fault: ${(error as Error).message}`,
      };
    }
    return { status: 'failed', outputJson: null, error: `sandbox error: ${error instanceof Error ? error.message : String(error)}` };
  }

  private async execute(): Promise<Outcome> {
    // Handles made during a run are never disposed: resetting the engine frees everything at once.
    const { rt, vm } = this;
    const { limits } = this.job;
    rt.setMemoryLimit(limits.max_memory_bytes);
    rt.setMaxStackSize(limits.max_stack_size_bytes);
    const contextText = vm.newString(this.job.contextJson);
    const parsedContext = vm.callFunction(this.parse, this.json, contextText);
    if (parsedContext.error) return this.failure(parsedContext.error, 'the context could not be read');
    const context = parsedContext.value;

    const evaluated = vm.evalCode(this.job.source, SCRIPT_FILENAME, { type: 'module' });
    if (evaluated.error) return this.failure(evaluated.error);
    let namespace = evaluated.value;
    if (vm.typeof(namespace) === 'object' && !(vm.getPromiseState(namespace) as { notAPromise?: boolean }).notAPromise) {
      // Top-level await: evaluation returned a promise of the namespace.
      const settled = await this.settle(namespace);
      if (!settled.ok) return settled.outcome;
      namespace = settled.value;
    }
    const main = vm.getProp(namespace, 'default');
    if (vm.typeof(main) !== 'function') {
      return { status: 'failed', outputJson: null, error: 'the script has no default export function: write `export default async (ctx) => { ... }`' };
    }
    const called = vm.callFunction(main, vm.undefined, context);
    if (called.error) return this.failure(called.error);
    const settled = await this.settle(called.value);
    if (!settled.ok) return settled.outcome;
    return this.serialise(settled.value);
  }

  /** Drives a VM promise (or plain value) to completion under the run's deadline. */
  private async settle(handle: QuickJSHandle): Promise<{ ok: true; value: QuickJSHandle } | { ok: false; outcome: Outcome }> {
    const vm = this.vm;
    const rt = this.rt;
    this.pump();
    for (;;) {
      const state = vm.getPromiseState(handle);
      if (state.type === 'fulfilled') return { ok: true, value: state.notAPromise ? handle : state.value };
      if (state.type === 'rejected') return { ok: false, outcome: this.failure(state.error) };
      if (this.memoryExceeded) return { ok: false, outcome: this.outOfMemory() };
      if (this.interrupted || Date.now() >= this.deadline) return { ok: false, outcome: timeoutOutcome(this.job.limits) };
      if (this.outstanding.size === 0 && !rt.hasPendingJob()) {
        return { ok: false, outcome: { status: 'failed', outputJson: null, error: 'the script awaits a promise that can never settle (nothing it waits for is pending)' } };
      }
      this.host.vmLeave?.();
      this.host.parked?.(true);
      await this.sleepUntilWoken();
      this.host.parked?.(false);
      this.host.vmEnter?.(this.deadline);
      if (this.poisoned) throw new WasmRuntimeError();
    }
  }

  /** Runs the VM's queued jobs (promise reactions) under the same deadline. */
  private pump(): void {
    const rt = this.rt;
    while (rt.hasPendingJob()) {
      const result = rt.executePendingJobs();
      if (result.error) {
        result.error.dispose();
        if (this.interrupted) return;
      }
      if (Date.now() > this.deadline) return;
    }
  }

  private sleepUntilWoken(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), Math.max(0, this.deadline - Date.now()) + 1);
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      this.wake = done;
    });
  }

  private serialise(value: QuickJSHandle): Outcome {
    const vm = this.vm;
    const limit = this.job.limits.max_output_size_bytes;
    const result = vm.callFunction(this.stringify, this.json, value);
    if (result.error) {
      const error = result.error;
      const limited = this.limitFor(error);
      if (limited) return limited;
      return { status: 'failed', outputJson: null, error: `the return value is not JSON-serialisable: ${this.describe(error)}` };
    }
    const text = result.value;
    if (vm.typeof(text) !== 'string') return { status: 'completed', outputJson: 'null', error: null }; // undefined, a function...
    // Length in UTF-16 units bounds the UTF-8 size from below: refuse before copying a huge string out.
    const tooLarge = { status: 'failed' as const, outputJson: null, error: `output too large: the serialised return value exceeds max_output_size_bytes (${limit} bytes)` };
    if ((vm.getLength(text) ?? 0) > limit) return tooLarge;
    const json = vm.getString(text);
    if (Buffer.byteLength(json) > limit) return tooLarge;
    return { status: 'completed', outputJson: json, error: null };
  }

  private outOfMemory(): Outcome {
    return outOfMemoryOutcome(this.job.limits);
  }

  /** Bytes the run uses now: its engine's heap (O(1): the heap's break; see snapshot-engine.ts) and what the host keeps for it. */
  private memoryUsed(): number {
    const bytes = this.engine.heapUsed() + this.hostBytes;
    if (bytes > this.peakMemory) this.peakMemory = bytes;
    return bytes;
  }

  private limitFor(error: QuickJSHandle): Outcome | null {
    if (this.memoryExceeded) return this.outOfMemory();
    if (this.interrupted) return timeoutOutcome(this.job.limits);
    const vm = this.vm;
    if (vm.typeof(error) === 'null' || vm.typeof(error) === 'object') {
      const { name, message } = this.errorParts(error);
      return limitOutcome(name, message, this.job.limits);
    }
    return null;
  }

  private errorParts(error: QuickJSHandle): { name: string; message: string; stack: string } {
    const vm = this.vm;
    try {
      const dumped: unknown = vm.dump(error);
      if (dumped === null) return { name: 'null', message: '', stack: '' };
      if (dumped && typeof dumped === 'object') {
        const e = dumped as { name?: unknown; message?: unknown; stack?: unknown };
        if (typeof e.message === 'string') {
          return { name: typeof e.name === 'string' ? e.name : 'Error', message: e.message, stack: typeof e.stack === 'string' ? e.stack : '' };
        }
      }
      const text = typeof dumped === 'string' ? dumped : JSON.stringify(dumped);
      return { name: '', message: `Uncaught ${text === undefined ? String(dumped) : text}`, stack: '' };
    } catch (e) {
      if (isEngineFault(e)) throw e;
      return { name: '', message: 'an exception that could not be read', stack: '' };
    }
  }

  private describe(error: QuickJSHandle): string {
    const { name, message, stack } = this.errorParts(error);
    const summary = (name ? `${name}: ${message}` : message).slice(0, MAX_ERROR_CHARS);
    const line = LINE_IN_STACK.exec(stack);
    return line ? `${summary} (line ${line[1] ?? 1})` : summary;
  }

  /** A thrown value (or rejection) as the run's outcome. */
  private failure(error: QuickJSHandle, prefix?: string): Outcome {
    const limited = this.limitFor(error);
    if (limited) return limited;
    const text = this.describe(error);
    return { status: 'failed', outputJson: null, error: prefix ? `${prefix}: ${text}` : text };
  }

  /** Starts a fetch for the script; answers the VM promise it awaits. */
  fetch(call: FetchCall): QuickJSHandle {
    const vm = this.vm;
    this.apiCalls++;
    const deferred = vm.newPromise();
    this.outstanding.add(deferred);
    this.abort ??= new AbortController();
    const timeoutMs = Math.max(1, this.deadline - Date.now());
    let pending: Promise<SandboxFetchResponse & { url?: string }>;
    try {
      pending = Promise.resolve(this.host.fetch(call, { timeoutMs, signal: this.abort.signal }));
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (response) => this.resume(deferred, { ok: true, response: { status: response.status, url: response.url ?? call.url, headers: response.headers ?? {}, body: response.body ?? '' } }),
      (error: unknown) => this.resume(deferred, { ok: false, message: error instanceof Error ? error.message : String(error) }),
    );
    return deferred.handle;
  }

  private resume(
    deferred: QuickJSDeferredPromise,
    result: { ok: true; response: { status: number; url: string; headers: Record<string, string>; body: string } } | { ok: false; message: string },
  ): void {
    if (this.finished || !this.outstanding.delete(deferred)) return;
    if (result.ok) {
      const held = result.response.body.length * 2; // a V8 string of UTF-16 units, at worst
      this.hostBytes += held;
      this.engine.lowerCeiling(held);
      if (this.memoryUsed() > this.job.limits.max_memory_bytes) {
        this.memoryExceeded = this.interrupted = true;
        this.wake?.();
        return;
      }
    }
    const vm = this.vm;
    this.host.vmEnter?.(this.deadline);
    try {
      if (result.ok) {
        const response = newFetchResponse(vm, this.parse, this.json, result.response);
        deferred.resolve(response);
        response.dispose();
      } else {
        const error = vm.newError({ name: 'FetchError', message: result.message });
        deferred.reject(error);
        error.dispose();
      }
      deferred.dispose();
      this.pump();
    } catch (error) {
      if (isEngineFault(error)) this.poisoned = true;
    }
    this.host.vmLeave?.();
    this.wake?.();
  }

  /** Stops what the run has going outside the VM; its engine state is dropped by the engine's reset. */
  private finish(): void {
    this.finished = true;
    this.abort?.abort();
    this.wake?.();
    this.outstanding.clear();
  }

}
