// Where the QuickJS WASM build keeps its state in linear memory, read from the .wasm file itself.
//
// Emscripten lays memory out as: static data and zero-initialised globals from address 1024 up, then
// the C stack (it grows DOWN from its top), then malloc's heap from the stack's top upwards. The
// stack's top is the initial value of the module's one mutable global (`__stack_pointer`); the static
// data ends where its last data segment ends, plus the zero-initialised globals (not in any segment)
// that sit between that and the stack's bottom. A snapshot engine copies the static part and the used
// heap, never the stack (what lies below the stack pointer between two calls is garbage by definition).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * The C stack size this quickjs-emscripten build links with (emscripten's old default, which
 * quickjs-emscripten keeps). The layout check below fails loudly if a new build differs.
 */
const STACK_SIZE = 5 * 1024 * 1024;
/** Zero-initialised globals of QuickJS + libc + malloc: ~3 KB in the 0.31 build. */
const MAX_ZERO_GLOBALS_BYTES = 64 * 1024;

export interface WasmLayout {
  /** End of static data and globals: [0, staticEnd) holds engine-wide state. */
  staticEnd: number;
  /** Start of malloc's heap (= top of the C stack). */
  heapBase: number;
}

function reader(bytes: Uint8Array, start: number) {
  let at = start;
  /** LEB128: unsigned, or signed (sign-extended from the last byte's bit 6) for i32 constants. */
  const leb = (signed: boolean): number => {
    let result = 0;
    let shift = 0;
    let b: number;
    do {
      b = bytes[at++];
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return signed && b & 0x40 ? result - 2 ** shift : result;
  };
  return {
    get at() {
      return at;
    },
    skip(n: number) {
      at += n;
    },
    byte: () => bytes[at++],
    u32: () => leb(false),
    i32: () => leb(true),
  };
}

const I32_CONST = 0x41;
const END = 0x0b;

/** Reads the stack pointer's initial value and the end of the active data segments of a WASM binary. */
export function readWasmLayout(bytes: Uint8Array): WasmLayout {
  const r = reader(bytes, 8); // magic + version
  let stackTop: number | undefined;
  let dataEnd = 0;
  while (r.at < bytes.length) {
    const id = r.byte();
    const size = r.u32();
    const sectionEnd = r.at + size;
    if (id === 6 && stackTop === undefined) {
      // Global section: the first mutable i32 with a constant initialiser is __stack_pointer.
      const count = r.u32();
      for (let i = 0; i < count && stackTop === undefined; i++) {
        const type = r.byte();
        const mutable = r.byte();
        const op = r.byte();
        let value: number | undefined;
        if (op === I32_CONST) value = r.i32();
        else if (op === 0x42 || op === 0x23) r.i32(); // i64.const, global.get
        else if (op === 0x43) r.skip(4); // f32.const
        else if (op === 0x44) r.skip(8); // f64.const
        else break; // an initialiser this reader does not know: stop looking
        if (r.byte() !== END) break;
        if (type === 0x7f && mutable === 1 && value !== undefined) stackTop = value;
      }
    } else if (id === 11) {
      // Data section: active segments of memory 0 with an i32.const offset.
      const count = r.u32();
      for (let i = 0; i < count; i++) {
        const flags = r.u32();
        let offset: number | undefined;
        if (flags === 0 || flags === 2) {
          if (flags === 2) r.u32();
          if (r.byte() === I32_CONST) offset = r.i32();
          r.byte(); // end
        }
        const length = r.u32();
        if (offset !== undefined) dataEnd = Math.max(dataEnd, offset + length);
        r.skip(length);
      }
    }
    r.skip(sectionEnd - r.at);
  }
  if (stackTop === undefined) throw new Error('QuickJS WASM layout: no stack pointer global found');
  const staticEnd = stackTop - STACK_SIZE;
  if (staticEnd < dataEnd || staticEnd - dataEnd > MAX_ZERO_GLOBALS_BYTES) {
    throw new Error(`QuickJS WASM layout not as expected (data ends at ${dataEnd}, stack top ${stackTop}): the snapshot engine needs updating for this build`);
  }
  return { staticEnd, heapBase: stackTop };
}

let cached: WasmLayout | undefined;

/** The layout of the release-sync QuickJS build this package runs (read once per thread). */
export function quickJsLayout(): WasmLayout {
  if (!cached) {
    const fromQuickJs = createRequire(require.resolve('quickjs-emscripten'));
    cached = readWasmLayout(readFileSync(fromQuickJs.resolve('@jitl/quickjs-wasmfile-release-sync/wasm')));
  }
  return cached;
}
