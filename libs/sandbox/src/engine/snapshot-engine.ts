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
// The engine's linear memory is a WebAssembly.Memory the engine makes itself: it refuses to grow past
// the ceiling of the run holding the engine (its max_memory_bytes plus a slack), which is how the memory
// limit holds for every allocation (QuickJS's own accounting does not, in this build: script-runner.ts).
//
// One engine serves one run at a time (a run waiting on fetch keeps its engine); EngineShelf keeps
// the idle ones of a thread, within the thread's memory budget.
import { randomFillSync } from 'node:crypto';
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime, QuickJSWASMModule } from 'quickjs-emscripten';
import { installFastHostCalls } from './fast-host-calls';
import { newQuickJsInstance, type WasmMemory } from './quickjs-module';
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
 * shrinks, and the pages a run touched stay resident. This is the build's initial 16 MiB (the module
 * cannot start with less), so an idle engine never holds more (a fresh one holds ~0.6 MB resident).
 */
export const ENGINE_KEEP_BYTES = 16 * 1024 * 1024;
/** Idle engines a shelf keeps; more are dropped as their runs end. */
export const MAX_IDLE_ENGINES = 8;
/** Engines a shelf (one thread) holds at once, busy and idle; a run past that waits for one. */
export const MAX_ENGINES = 16;
/**
 * WebAssembly memory the engines of one thread may hold together (busy ones count their ceiling,
 * idle ones their size); a run whose ceiling does not fit waits until runs before it give theirs back.
 */
export const ENGINE_MEMORY_BUDGET_BYTES = 256 * 1024 * 1024;
/**
 * Headroom of an engine's ceiling over heap start + max_memory_bytes: what QuickJS needs to throw
 * "out of memory" and unwind when a large allocation is refused, and the page rounding of growth.
 */
export const MEMORY_SLACK_BYTES = 1024 * 1024;
const WASM_PAGE = 64 * 1024;
/** How far down the C stack reset() looks for what a run left there (stride, and zero samples that end it). */
const STACK_SCAN_STRIDE = 256;
const STACK_SCAN_ZERO_RUN = 64;

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

/** A host-side allocation in the engine (a string handed to the script) found the engine's memory full. */
export class EngineMemoryFullError extends RangeError {
  override name = 'EngineMemoryFullError';
  constructor() {
    super('out of memory');
  }
}

const WasmMemoryClass = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => WasmMemory } }).WebAssembly.Memory;
const growMemory = (WasmMemoryClass as unknown as { prototype: WasmMemory }).prototype.grow;

/** Rounds down to whole WASM pages. */
function pages(bytes: number): number {
  return Math.floor(bytes / WASM_PAGE) * WASM_PAGE;
}

/**
 * The memory ceiling of an engine serving a run limited to `maxMemoryBytes`: its heap can never
 * pass the limit plus MEMORY_SLACK_BYTES (the build's 16 MiB minimum aside).
 */
export function engineCeiling(maxMemoryBytes: number): number {
  return Math.max(ENGINE_KEEP_BYTES, pages(quickJsLayout().heapBase + maxMemoryBytes + MEMORY_SLACK_BYTES));
}

export class SnapshotEngine {
  readonly rt: QuickJSRuntime;
  readonly vm: QuickJSContext;
  /** Handles captured before any script ran: a script that replaces JSON.* cannot forge results. */
  readonly json: QuickJSHandle;
  readonly parse: QuickJSHandle;
  readonly stringify: QuickJSHandle;
  private tenant: EngineTenant | null = null;
  private readonly memory: WasmMemory;
  /** Bytes the memory may grow to during the current run (set at lease). */
  private ceiling = Infinity;
  /** A growth past the ceiling (or a host allocation) was refused in the current run. */
  private refused = false;
  private words: Uint32Array;
  private readonly staticBytes: Uint8Array;
  private readonly heapBase: number;
  private readonly heapEnd: number;
  private readonly heapBytes: Uint8Array;
  private readonly stackBottom: number;
  /** Where Emscripten's sbrk keeps the heap's break (word index): the top of all memory malloc handed out. */
  private readonly breakWord: number;
  private highWater = 0;
  private readonly functions: ContextFunctionTable;
  private readonly hostFunctionsAtSnapshot: number;
  private readonly cachedHandles: Record<string, unknown>;
  /** Where QuickJS keeps the context's Math.random state (null: Math.random asks the host instead). */
  private readonly randomState: number | null;
  private readonly seed = new Uint8Array(8);

  static async create(): Promise<SnapshotEngine> {
    const breakAddress = await heapBreakAddress();
    const memory = new WasmMemoryClass({ initial: ENGINE_KEEP_BYTES / WASM_PAGE, maximum: 32768 });
    const engine: { current?: SnapshotEngine } = {};
    // Emscripten's sbrk grows the heap through memory.grow; past the run's ceiling it is refused, so
    // malloc returns NULL and QuickJS throws "out of memory" inside the allocation that asked.
    Object.defineProperty(memory, 'grow', {
      value: (delta: number) => {
        const owner = engine.current;
        if (owner && memory.buffer.byteLength + delta * WASM_PAGE > owner.ceiling) {
          owner.refused = true;
          throw new EngineMemoryFullError();
        }
        return growMemory.call(memory, delta);
      },
    });
    engine.current = new SnapshotEngine(await newQuickJsInstance(memory), memory, breakAddress);
    return engine.current;
  }

  private constructor(qjs: QuickJSWASMModule, memory: WasmMemory, breakAddress: number) {
    this.memory = memory;
    this.words = new Uint32Array(memory.buffer);
    this.breakWord = breakAddress >> 2;
    guardHostAllocations(qjs, () => {
      this.refused = true;
    });
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
    this.randomState = findRandomState(vm, this.memory, layout.heapBase);
    if (this.randomState === null) {
      const math = vm.getProp(vm.global, 'Math');
      const random = vm.newFunction('random', () => vm.newNumber(cryptoRandom()));
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
    this.stackBottom = layout.staticEnd;
    this.heapEnd = usedHeapEnd(this.memory.buffer, layout.heapBase);
    this.heapBytes = bytes.slice(layout.heapBase, this.heapEnd);
  }

  /** How this engine gives each run its own Math.random sequence. */
  get mathRandom(): 'reseeded' | 'host' {
    return this.randomState === null ? 'host' : 'reseeded';
  }

  /** Bytes of WASM memory this engine holds (it only grows). */
  get wasmBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** The heap's break now: every byte malloc handed out lies below it (O(1): one word of memory). */
  private heapBreak(): number {
    let words = this.words;
    if (words.buffer !== this.memory.buffer) words = this.words = new Uint32Array(this.memory.buffer);
    return words[this.breakWord];
  }

  /**
   * Bytes of heap the engine uses now, the runtime's own included: everything malloc handed out,
   * live or freed (Emscripten's malloc does not give memory back), so it only grows during a run.
   */
  heapUsed(): number {
    const top = this.heapBreak();
    if (top > this.highWater) this.highWater = top;
    return top - this.heapBase;
  }

  /** Lowers the run's ceiling by `bytes` the host holds for it (it never goes below the memory's size). */
  lowerCeiling(bytes: number): void {
    this.ceiling = Math.max(this.memory.buffer.byteLength, this.ceiling - bytes);
  }

  /** True when an allocation of the current run was refused for lack of memory. */
  get memoryRefused(): boolean {
    return this.refused;
  }

  /**
   * Hands the engine to a run; its interrupts and host calls go to `tenant` until reset(), and its
   * memory may grow to `ceiling` bytes. The run's Math.random gets a seed of its own, from the
   * system's cryptographic source.
   */
  lease(tenant: EngineTenant, ceiling: number): void {
    this.tenant = tenant;
    this.ceiling = Math.max(ceiling, this.memory.buffer.byteLength);
    this.refused = false;
    if (this.randomState !== null) {
      const view = new DataView(this.seed.buffer);
      do randomFillSync(this.seed);
      while (view.getBigUint64(0) === 0n); // xorshift's one fixed point
      new Uint8Array(this.memory.buffer).set(this.seed, this.randomState);
    }
  }

  /**
   * Puts the engine back into its pristine state. Every handle the last run made is invalid from
   * here on and must not be disposed (there is nothing left to free). What the run wrote above the
   * snapshot's heap and on the C stack is zeroed, so no byte of it is left for a later run: the cost is
   * what the run itself touched (its heap growth and stack depth), not the engine's size.
   */
  reset(): void {
    this.tenant = null;
    this.ceiling = Infinity;
    const top = Math.max(this.highWater, this.heapBreak());
    const bytes = new Uint8Array(this.memory.buffer);
    if (top > this.heapEnd) bytes.fill(0, this.heapEnd, Math.min(top, bytes.length));
    this.clearStack(bytes);
    bytes.set(this.staticBytes, 0);
    bytes.set(this.heapBytes, this.heapBase);
    this.highWater = 0;
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

  /**
   * Zeroes the C stack (it grows down from heapBase) down to the deepest frame the runs reached: the
   * scan walks down in strides until a run of zero samples. No frame is live between two calls.
   */
  private clearStack(bytes: Uint8Array): void {
    const words = new Int32Array(bytes.buffer);
    let low = this.heapBase;
    let zeros = 0;
    for (let at = this.heapBase - STACK_SCAN_STRIDE; at >= this.stackBottom && zeros < STACK_SCAN_ZERO_RUN; at -= STACK_SCAN_STRIDE) {
      if (words[at >> 2] !== 0 || words[(at >> 2) + 1] !== 0) {
        low = at;
        zeros = 0;
      } else zeros++;
    }
    if (low < this.heapBase) bytes.fill(0, Math.max(this.stackBottom, low - STACK_SCAN_STRIDE), this.heapBase);
  }
}

/** A random number in [0, 1) from the system's cryptographic source (the host fallback of Math.random). */
const randomPool = new Uint32Array(512);
let randomNext = randomPool.length;
function cryptoRandom(): number {
  if (randomNext >= randomPool.length - 1) {
    randomFillSync(randomPool);
    randomNext = 0;
  }
  const high = randomPool[randomNext++] >>> 5;
  const low = randomPool[randomNext++] >>> 6;
  return (high * 67108864 + low) / 9007199254740992;
}

interface EmscriptenHeap {
  _malloc(size: number): number;
  _free(ptr: number): void;
}

function emscriptenHeap(qjs: QuickJSWASMModule): EmscriptenHeap {
  const heap = (qjs as unknown as { module?: EmscriptenHeap }).module;
  if (!heap || typeof heap._malloc !== 'function' || typeof heap._free !== 'function') {
    throw new Error('quickjs-emscripten internals not as expected (module malloc): the snapshot engine needs updating');
  }
  // Emscripten's export wrappers replace themselves with the export on their first call.
  heap._free(heap._malloc(8));
  return heap;
}

/**
 * The host copies strings into the engine with the module's malloc and does not check for NULL (it
 * would write the string at address 0, over static data): a refused allocation throws instead.
 */
function guardHostAllocations(qjs: QuickJSWASMModule, onRefused: () => void): void {
  const heap = emscriptenHeap(qjs);
  const malloc = heap._malloc.bind(heap);
  heap._malloc = (size: number) => {
    const ptr = malloc(size);
    if (ptr === 0 && size > 0) {
      onRefused();
      throw new EngineMemoryFullError();
    }
    return ptr;
  };
}

let breakAddress: Promise<number> | undefined;

/**
 * Finds the word of static memory where Emscripten's sbrk keeps the heap's break (the same address in
 * every instance of this build): in a throw-away instance, the one word above the heap's start that
 * moves by the size of an allocation too large for any free block, and stays when it is freed.
 */
function heapBreakAddress(): Promise<number> {
  breakAddress ??= newQuickJsInstance().then((qjs) => {
    const { staticEnd, heapBase } = quickJsLayout();
    const heap = emscriptenHeap(qjs);
    const memory = qjs.getWasmMemory();
    const before = new Uint32Array(memory.buffer).slice(0, staticEnd >> 2);
    const probe = 4 * 1024 * 1024;
    const ptr = heap._malloc(probe);
    const after = new Uint32Array(memory.buffer).slice(0, staticEnd >> 2);
    heap._free(ptr);
    const freed = new Uint32Array(memory.buffer);
    const found: number[] = [];
    for (let i = 256; i < before.length; i++) {
      if (before[i] >= heapBase && after[i] - before[i] >= probe / 2 && after[i] <= memory.buffer.byteLength && freed[i] === after[i]) found.push(i * 4);
    }
    if (found.length !== 1) throw new Error(`quickjs-emscripten internals not as expected (heap break: ${found.length} candidates): the snapshot engine needs updating`);
    return found[0];
  });
  breakAddress.catch(() => (breakAddress = undefined));
  return breakAddress;
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

export interface EngineShelfOptions {
  /** An engine whose memory grew past this is dropped after its run. Default ENGINE_KEEP_BYTES. */
  keepBytes?: number;
  /** Idle engines kept. Default MAX_IDLE_ENGINES. */
  maxIdle?: number;
  /** Engines held at once, busy and idle. Default MAX_ENGINES. */
  maxEngines?: number;
  /** WebAssembly memory of all engines together (busy: their ceiling; idle: their size). Default ENGINE_MEMORY_BUDGET_BYTES. */
  memoryBudgetBytes?: number;
}

interface Waiter {
  need: number;
  grant: (engine: SnapshotEngine | null) => void;
}

/**
 * A thread's engines. One is made when every one is busy, and kept for the runs after. The shelf is
 * the thread's memory budget: a run reserves its engine's ceiling (engineCeiling of its
 * max_memory_bytes, at most the whole budget) before it gets an engine, idle engines are dropped to
 * make room, and a run that does not fit waits, in order, for runs before it to end.
 */
export class EngineShelf {
  private readonly idle: SnapshotEngine[] = [];
  private readonly busy = new Map<SnapshotEngine, number>();
  private readonly waiters: Waiter[] = [];
  /** Bytes reserved by runs holding (or about to hold) an engine, and how many they are. */
  private reserved = 0;
  private holders = 0;
  private readonly keepBytes: number;
  private readonly maxIdle: number;
  private readonly maxEngines: number;
  readonly memoryBudgetBytes: number;

  constructor(options: EngineShelfOptions = {}) {
    this.keepBytes = options.keepBytes ?? ENGINE_KEEP_BYTES;
    this.maxIdle = options.maxIdle ?? MAX_IDLE_ENGINES;
    this.maxEngines = Math.max(1, options.maxEngines ?? MAX_ENGINES);
    this.memoryBudgetBytes = Math.max(ENGINE_KEEP_BYTES, options.memoryBudgetBytes ?? ENGINE_MEMORY_BUDGET_BYTES);
  }

  /** The ceiling a run limited to `maxMemoryBytes` gets here: never more than the thread's budget. */
  ceilingFor(maxMemoryBytes: number): number {
    return Math.min(engineCeiling(maxMemoryBytes), this.memoryBudgetBytes);
  }

  /**
   * An engine for a run whose memory may grow to `ceiling` bytes: an idle one, or a new one (a new
   * WASM instance: ~5-15 ms). Waits while the thread's engines or budget are all taken.
   */
  async take(ceiling = ENGINE_KEEP_BYTES): Promise<SnapshotEngine> {
    const need = Math.min(Math.max(ceiling, ENGINE_KEEP_BYTES), this.memoryBudgetBytes);
    let admitted = this.waiters.length === 0 ? this.admit(need) : false;
    if (admitted === false) admitted = await new Promise<SnapshotEngine | null>((grant) => this.waiters.push({ need, grant }));
    let engine = admitted;
    if (!engine) {
      try {
        engine = await SnapshotEngine.create();
      } catch (error) {
        this.release(need);
        throw error;
      }
    }
    this.busy.set(engine, need);
    return engine;
  }

  /** Takes an engine back after its run: reset for the next one, or dropped (faulted, grew, enough idle). */
  give(engine: SnapshotEngine, faulted: boolean): void {
    const need = this.busy.get(engine);
    if (need === undefined) return;
    this.busy.delete(engine);
    if (!faulted && engine.wasmBytes <= this.keepBytes && this.idle.length < this.maxIdle) {
      engine.reset();
      this.idle.push(engine);
    }
    this.release(need);
  }

  /** Makes engines ahead of need, so the first runs do not wait for one. */
  async warm(count: number): Promise<void> {
    const room = Math.min(
      count - this.idle.length,
      this.maxEngines - this.holders - this.idle.length,
      Math.floor((this.memoryBudgetBytes - this.reserved - this.idleBytes()) / ENGINE_KEEP_BYTES),
    );
    const engines = await Promise.all(Array.from({ length: Math.max(0, room) }, () => SnapshotEngine.create()));
    this.idle.push(...engines);
  }

  get size(): { idle: number; total: number } {
    return { idle: this.idle.length, total: this.idle.length + this.holders };
  }

  /** What the thread's engines may hold: the reservations of busy ones plus the size of idle ones. */
  get committedBytes(): number {
    return this.reserved + this.idleBytes();
  }

  private idleBytes(): number {
    let bytes = 0;
    for (const engine of this.idle) bytes += engine.wasmBytes;
    return bytes;
  }

  /**
   * Reserves `need` bytes and an engine slot if both are free: returns the idle engine the run takes
   * (null: it makes a new one), or false. Idle engines are dropped, oldest first, to make room.
   */
  private admit(need: number): SnapshotEngine | null | false {
    if (this.holders >= this.maxEngines || this.reserved + need > this.memoryBudgetBytes) return false;
    this.reserved += need;
    this.holders++;
    const engine = this.idle.pop() ?? null;
    while (this.idle.length > 0 && (this.reserved + this.idleBytes() > this.memoryBudgetBytes || this.holders + this.idle.length > this.maxEngines)) this.idle.shift();
    return engine;
  }

  private release(need: number): void {
    this.reserved -= need;
    this.holders--;
    while (this.waiters.length > 0) {
      const admitted = this.admit(this.waiters[0].need);
      if (admitted === false) break;
      this.waiters.shift()!.grant(admitted);
    }
  }
}
