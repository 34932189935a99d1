// A QuickJS runtime and context built once, then put back into that pristine state after every run.
//
// Building a context (its built-in constructors and prototypes), installing the host API and freeing
// it all again was ~80 % of what a short hook cost inside the engine (~370 µs of ~440 µs per run,
// measured on the attribute-mapping hook of bench:sandbox). An engine owns a WASM module instance of
// its own, so every byte of engine state lives in that instance's linear memory. Once the context is
// ready the engine copies the parts of that memory that hold state (static data and globals; the used
// heap) and after each run copies them back: ~130 KB, a few µs. The next run therefore starts from
// byte-for-byte the memory the first one started from: no object, prototype, atom, pending job or
// allocation of an earlier run, script or tenant survives it.
//
// One engine serves one run at a time (a run waiting on fetch keeps its engine); EngineShelf keeps
// the idle ones of a thread.
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime, QuickJSWASMModule } from 'quickjs-emscripten';
import { installFastHostCalls } from './fast-host-calls';
import { newQuickJsInstance } from './quickjs-module';
import { quickJsLayout } from './wasm-layout';
import { installHostApi, type ConsoleLevel, type FetchCall } from '../host/host-api';

/**
 * Language built-ins a script gets. Left out on purpose: `Proxy` and typed arrays / ArrayBuffer
 * (rarely useful to a provisioning hook, historically the richest source of engine bugs).
 */
export const SCRIPT_INTRINSICS = {
  BaseObjects: true,
  Date: true,
  Eval: true,
  StringNormalize: true,
  RegExp: true,
  JSON: true,
  MapSet: true,
  Promise: true,
} as const;

/**
 * An engine whose memory grew past this during a run is dropped rather than kept: WASM memory never
 * shrinks, and the pages a run touched stay resident. This is the build's initial 16 MiB, so an idle
 * engine never holds more (a fresh one holds ~0.6 MB resident); a run that needed more heap than that
 * leaves its engine to the garbage collector, and the next run that needs one makes a new one.
 */
export const ENGINE_KEEP_BYTES = 16 * 1024 * 1024;
/**
 * Idle engines a shelf keeps; more are dropped as their runs end (many runs waiting on fetch at once
 * make many engines, 16 MiB of address space each).
 */
export const MAX_IDLE_ENGINES = 8;

/** What the run holding an engine answers for: the engine's interrupt handler and host API call it. */
export interface EngineTenant {
  /** True stops the script (deadline passed, memory exceeded). */
  interrupt(): boolean;
  logOpen(): boolean;
  log(level: ConsoleLevel, message: string): void;
  fetch(call: FetchCall): QuickJSHandle;
}

/** The context's lazily created handles (quickjs-emscripten 0.31 internals), put back on reset. */
const CACHED_HANDLE_FIELDS = ['_undefined', '_null', '_false', '_true', '_global', '_BigInt', '_Symbol', '_SymbolIterator', '_SymbolAsyncIterator'] as const;
interface ContextFunctionTable {
  fnNextId: number;
  fnMaps: Map<number, Map<number, unknown>>;
}

export class SnapshotEngine {
  readonly rt: QuickJSRuntime;
  readonly vm: QuickJSContext;
  /** Handles captured before any script ran: a script that replaces JSON.* cannot forge results. */
  readonly json: QuickJSHandle;
  readonly parse: QuickJSHandle;
  readonly stringify: QuickJSHandle;
  private tenant: EngineTenant | null = null;
  private readonly memory: { buffer: ArrayBuffer };
  private readonly staticBytes: Uint8Array;
  private readonly heapBase: number;
  private readonly heapBytes: Uint8Array;
  private readonly functions: ContextFunctionTable;
  private readonly hostFunctionsAtSnapshot: number;
  private readonly cachedHandles: Record<string, unknown>;
  /** Where QuickJS keeps the context's Math.random state (null: Math.random asks the host instead). */
  private readonly randomState: number | null;
  private readonly seed = new Uint8Array(8);
  private readonly seedView = new DataView(this.seed.buffer);

  static async create(): Promise<SnapshotEngine> {
    return new SnapshotEngine(await newQuickJsInstance());
  }

  private constructor(qjs: QuickJSWASMModule) {
    const rt = (this.rt = qjs.newRuntime());
    rt.setInterruptHandler(() => this.tenant?.interrupt() ?? false);
    const vm = (this.vm = rt.newContext({ intrinsics: SCRIPT_INTRINSICS }));
    // computeMemoryUsage() would otherwise create a second, throw-away context.
    rt.context = vm;
    installFastHostCalls(rt, vm);
    this.json = vm.getProp(vm.global, 'JSON');
    this.parse = vm.getProp(this.json, 'parse');
    this.stringify = vm.getProp(this.json, 'stringify');
    installHostApi(vm, {
      logOpen: () => this.tenant?.logOpen() ?? false,
      log: (level, message) => this.tenant?.log(level, message),
      fetch: (call) => {
        if (!this.tenant) throw new Error('fetch outside a run');
        return this.tenant.fetch(call);
      },
    });
    // QuickJS seeds Math.random once, when it creates a context: restored memory would replay one
    // sequence in every run. Each lease writes a new seed into the context's random state; if that
    // state cannot be found (another QuickJS build), Math.random asks the host (~7x slower a call).
    const layout = quickJsLayout();
    this.memory = qjs.getWasmMemory();
    this.randomState = findRandomState(vm, this.memory, layout.heapBase);
    if (this.randomState === null) {
      const math = vm.getProp(vm.global, 'Math');
      const random = vm.newFunction('random', () => vm.newNumber(Math.random()));
      vm.setProp(math, 'random', random);
      random.dispose();
      math.dispose();
    }

    this.functions = vm as unknown as ContextFunctionTable;
    if (typeof this.functions.fnNextId !== 'number' || !(this.functions.fnMaps instanceof Map)) {
      throw new Error('quickjs-emscripten internals not as expected (function table): the snapshot engine needs updating');
    }
    this.hostFunctionsAtSnapshot = this.functions.fnNextId;
    const fields = vm as unknown as Record<string, unknown>;
    this.cachedHandles = Object.fromEntries(CACHED_HANDLE_FIELDS.map((name) => [name, fields[name]]));

    const bytes = new Uint8Array(this.memory.buffer);
    this.staticBytes = bytes.slice(0, layout.staticEnd);
    this.heapBase = layout.heapBase;
    this.heapBytes = bytes.slice(layout.heapBase, usedHeapEnd(this.memory.buffer, layout.heapBase));
  }

  /** How this engine gives each run its own Math.random sequence. */
  get mathRandom(): 'reseeded' | 'host' {
    return this.randomState === null ? 'host' : 'reseeded';
  }

  /** Bytes of WASM memory this engine holds (it only grows). */
  get wasmBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /**
   * Hands the engine to a run; its interrupts and host calls go to `tenant` until reset(). The run's
   * Math.random gets a seed of its own (engines made in the same millisecond share QuickJS's).
   */
  lease(tenant: EngineTenant): void {
    this.tenant = tenant;
    if (this.randomState !== null) {
      for (let i = 0; i < 8; i += 4) this.seedView.setUint32(i, (Math.random() * 0x1_0000_0000) >>> 0 || 1);
      new Uint8Array(this.memory.buffer).set(this.seed, this.randomState);
    }
  }

  /**
   * Puts the engine back into its pristine state. Every handle the last run made is invalid from
   * here on and must not be disposed (there is nothing left to free).
   */
  reset(): void {
    this.tenant = null;
    const bytes = new Uint8Array(this.memory.buffer);
    bytes.set(this.staticBytes, 0);
    bytes.set(this.heapBytes, this.heapBase);
    // Host functions a run created (fetch responses' text()/json()) leave the context's table.
    const { functions } = this;
    if (functions.fnNextId !== this.hostFunctionsAtSnapshot) {
      for (const [mapId, map] of functions.fnMaps) {
        if (mapId < this.hostFunctionsAtSnapshot >> 8) continue;
        for (const fnId of map.keys()) if (fnId > this.hostFunctionsAtSnapshot) map.delete(fnId);
        if (map.size === 0) functions.fnMaps.delete(mapId);
      }
      functions.fnNextId = this.hostFunctionsAtSnapshot;
    }
    Object.assign(this.vm, this.cachedHandles);
  }
}

// QuickJS's Math.random: xorshift64* over a 64-bit state in the context; the result is the top 52 bits
// of state x 0x2545F4914F6CDD1D as the mantissa of a double in [1, 2), minus 1.
const XORSHIFT_MULTIPLIER = 0x2545f4914f6cdd1dn;
const U64 = (1n << 64n) - 1n;
const MANTISSA = (1n << 52n) - 1n;

/** The mantissa of the draw Math.random makes from `state`. */
function nextDraw(state: bigint): bigint {
  let x = state;
  x ^= x >> 12n;
  x = (x ^ (x << 25n)) & U64;
  x ^= x >> 27n;
  return ((x * XORSHIFT_MULTIPLIER) & U64) >> 12n;
}

function mantissaOf(random: number): bigint {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, random + 1);
  return view.getBigUint64(0) & MANTISSA;
}

function evalNumber(vm: QuickJSContext, code: string): number {
  const handle = vm.unwrapResult(vm.evalCode(code));
  const value = vm.getNumber(handle);
  handle.dispose();
  return value;
}

/**
 * Finds the context's Math.random state in the heap: the one 8-byte word whose xorshift64* output is
 * what Math.random just returned, confirmed by seeding it and predicting the next value.
 */
function findRandomState(vm: QuickJSContext, memory: { buffer: ArrayBuffer }, heapBase: number): number | null {
  const drawn = mantissaOf(evalNumber(vm, 'Math.random()'));
  const words = new BigUint64Array(memory.buffer);
  const candidates: number[] = [];
  const end = usedHeapEnd(memory.buffer, heapBase) >> 3;
  for (let i = heapBase >> 3; i < end; i++) {
    const x = words[i];
    if (x !== 0n && ((x * XORSHIFT_MULTIPLIER) & U64) >> 12n === drawn) candidates.push(i);
  }
  if (candidates.length !== 1) return null;
  const index = candidates[0];
  const probe = 0x0123_4567_89ab_cdefn;
  const previous = words[index];
  words[index] = probe;
  if (mantissaOf(evalNumber(vm, 'Math.random()')) === nextDraw(probe)) return index * 8;
  new BigUint64Array(memory.buffer)[index] = previous; // a fresh view: the eval may have grown memory
  return null;
}

/** End of the heap in use: past it, memory has never been written (WASM memory starts zeroed). */
function usedHeapEnd(buffer: ArrayBuffer, heapBase: number): number {
  const words = new Int32Array(buffer);
  let i = words.length - 1;
  while (i >= heapBase >> 2 && words[i] === 0) i--;
  return Math.min(buffer.byteLength, (i + 1) * 4 + 16);
}

/** A thread's engines. One is made when every one is busy, and kept for the runs after. */
export class EngineShelf {
  private readonly idle: SnapshotEngine[] = [];
  private readonly engines = new Set<SnapshotEngine>();

  constructor(
    private readonly keepBytes = ENGINE_KEEP_BYTES,
    private readonly maxIdle = MAX_IDLE_ENGINES,
  ) {}

  /** An idle engine, or a new one (a new WASM instance: ~5-15 ms). */
  async take(): Promise<SnapshotEngine> {
    const engine = this.idle.pop() ?? (await SnapshotEngine.create());
    this.engines.add(engine);
    return engine;
  }

  /** Takes an engine back after its run: reset for the next one, or dropped (faulted, grew, enough idle). */
  give(engine: SnapshotEngine, faulted: boolean): void {
    if (faulted || engine.wasmBytes > this.keepBytes || this.idle.length >= this.maxIdle) {
      this.engines.delete(engine);
      return;
    }
    engine.reset();
    this.idle.push(engine);
  }

  /** Makes engines ahead of need, so the first runs do not wait for one. */
  async warm(count: number): Promise<void> {
    const engines = await Promise.all(Array.from({ length: Math.max(0, count - this.idle.length) }, () => SnapshotEngine.create()));
    for (const engine of engines) {
      this.engines.add(engine);
      this.idle.push(engine);
    }
  }

  get size(): { idle: number; total: number } {
    return { idle: this.idle.length, total: this.engines.size };
  }
}
