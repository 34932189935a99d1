// A sandbox worker thread: runs the pool's tasks, each run on a snapshot engine of this thread's shelf
// (engine/snapshot-engine.ts), and validations on the thread's shared QuickJS module. The HTTP calls of
// `fetch` happen here, outside the VM; the per-minute API budget and dry-run fetches are asked of the
// main thread.
import { parentPort, workerData } from 'node:worker_threads';
import type { QuickJSWASMModule } from 'quickjs-emscripten';
import { loadQuickJs } from '../engine/quickjs-module';
import { runScript, type RunHost } from '../engine/script-runner';
import { EngineShelf } from '../engine/snapshot-engine';
import { FetchRefusedError, checkFetchRequest, checkFetchUrl, guardedFetch } from '../net/guarded-fetch';
import type { SandboxFetchRequest } from '../types';
import { validateWith } from '../validate';
import { CONTROL, type FromWorker, type ProxiedFetchResponse, type RunJobMessage, type ToWorker } from './protocol';

const port = parentPort!;
const data = workerData as { control: SharedArrayBuffer; recycleWasmBytes?: number; maxEngines?: number; engineMemoryBytes?: number };
const control = new Float64Array(data.control);

let outbox: FromWorker[] = [];
let flushScheduled = false;
function send(message: FromWorker): void {
  outbox.push(message);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(() => {
      flushScheduled = false;
      flush();
    });
  }
}
function flush(): void {
  const batch = outbox;
  outbox = [];
  if (batch.length) port.postMessage(batch);
}

let nextRid = 1;
const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
function ask<T>(build: (rid: number) => FromWorker): Promise<T> {
  const rid = nextRid++;
  return new Promise<T>((resolve, reject) => {
    pending.set(rid, { resolve: resolve as (value: unknown) => void, reject });
    send(build(rid));
  });
}

let qjs: QuickJSWASMModule;
const engines = new EngineShelf({ maxEngines: data.maxEngines, memoryBudgetBytes: data.engineMemoryBytes });
/** Engines made when the thread starts: one for the run in hand, one for the run queued behind it. */
const WARM_ENGINES = 2;
let retiring = false;
let parked = 0;

function hostFor(id: number, job: RunJobMessage): RunHost {
  return {
    async fetch(request: SandboxFetchRequest, { timeoutMs, signal }) {
      const granted = await ask<boolean>((rid) => ({ t: 'acquire', rid, id, method: request.method, key: job.apiKey, limit: job.limits.max_api_calls_per_minute }));
      if (!granted) {
        throw new FetchRefusedError(`fetch refused: this script reached max_api_calls_per_minute (${job.limits.max_api_calls_per_minute}); try again later`);
      }
      if (job.proxyFetch) {
        checkFetchRequest(request);
        checkFetchUrl(request.url, job.allowedHosts, job.allowedPorts);
        return ask<ProxiedFetchResponse>((rid) => ({ t: 'fetch', rid, id, request, timeoutMs: Math.min(timeoutMs, 10_000) }));
      }
      return guardedFetch(request, { allowedHosts: job.allowedHosts, allowedPorts: job.allowedPorts, timeoutMs, signal });
    },
    vmEnter(deadline: number) {
      control[CONTROL.sliceTask] = id;
      control[CONTROL.sliceDeadline] = deadline;
    },
    vmLeave() {
      control[CONTROL.sliceDeadline] = 0;
    },
    parked(on: boolean) {
      parked += on ? 1 : -1;
      send({ t: 'parked', count: parked });
    },
  };
}

/**
 * A worker whose shared module's WASM memory grew past this is replaced once idle (WASM memory never
 * shrinks). Engines look after their own: one that grew past ENGINE_KEEP_BYTES is dropped after its run.
 */
const RECYCLE_WASM_BYTES = data.recycleWasmBytes ?? 64 * 1024 * 1024;

function retire(reason: string, graceful = false): void {
  if (retiring) return;
  retiring = true;
  send({ t: 'retire', reason, graceful });
  flush();
}

// Tasks start one per event-loop turn, so replies to the main thread (new tasks, API budget, dry-run
// fetches) are read between two runs, and results go out as soon as the local queue runs low: the
// main thread refills it while this thread is still busy, and the worker never idles on a round trip.
const local: Extract<ToWorker, { t: 'run' | 'validate' }>[] = [];
let localHead = 0;
let nextScheduled = false;

function scheduleNext(): void {
  if (nextScheduled) return;
  nextScheduled = true;
  setImmediate(runNext);
}

function runNext(): void {
  nextScheduled = false;
  if (localHead >= local.length) return;
  const message = local[localHead];
  local[localHead++] = undefined as never;
  if (localHead === local.length) {
    local.length = 0;
    localHead = 0;
  }
  if (retiring) {
    send({ t: 'bounce', id: message.id });
  } else {
    control[CONTROL.startedSeq] = message.seq;
    if (message.t === 'validate') {
      control[CONTROL.sliceTask] = message.id;
      control[CONTROL.sliceDeadline] = Date.now() + 5000;
      const { enginePoisoned, ...result } = validateWith(qjs, message.source);
      control[CONTROL.sliceDeadline] = 0;
      send({ t: 'validated', id: message.id, result });
      if (enginePoisoned) retire('QuickJS engine fault while compiling');
    } else {
      void runScript(engines, message.job, hostFor(message.id, message.job)).then((result) => {
        send({ t: 'result', id: message.id, result });
        if (local.length - localHead <= 1) flush();
        if (qjs.getWasmMemory().buffer.byteLength > RECYCLE_WASM_BYTES) retire(`its WASM memory grew past ${RECYCLE_WASM_BYTES} bytes`, true);
      });
    }
  }
  if (localHead < local.length) scheduleNext();
}

function handle(message: ToWorker): void {
  switch (message.t) {
    case 'run':
    case 'validate':
      if (retiring) return send({ t: 'bounce', id: message.id });
      local.push(message);
      scheduleNext();
      return;
    case 'reply': {
      const waiter = pending.get(message.rid);
      if (!waiter) return;
      pending.delete(message.rid);
      if (message.ok) waiter.resolve(message.value);
      else waiter.reject(new FetchRefusedError(message.error ?? 'host call failed'));
      return;
    }
  }
}

// A failure to warm up is not fatal: runs make their engines on demand (and report why they cannot).
void Promise.all([loadQuickJs(), engines.warm(WARM_ENGINES).catch(() => undefined)]).then(([module]) => {
  qjs = module;
  port.on('message', (batch: ToWorker[]) => {
    for (const message of batch) handle(message);
  });
  send({ t: 'ready' });
});
