// QuickJS WebAssembly modules (the release build of the synchronous variant): the shared one of this
// thread (compiling and validating; dropped and reloaded when it faulted), and private instances,
// one per snapshot engine (engine/snapshot-engine.ts).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { newQuickJSWASMModule, RELEASE_SYNC, type QuickJSSyncVariant, type QuickJSWASMModule } from 'quickjs-emscripten';

type ModuleLoader = Awaited<ReturnType<QuickJSSyncVariant['importModuleLoader']>>;

function requireLoader(): ModuleLoader {
  const fromQuickJs = createRequire(require.resolve('quickjs-emscripten'));
  const loader = fromQuickJs('@jitl/quickjs-wasmfile-release-sync/emscripten-module') as { default?: unknown };
  return (loader.default ?? loader) as ModuleLoader;
}

/**
 * RELEASE_SYNC with its Emscripten loader taken by `require` instead of a dynamic `import()`: same
 * files, but it also loads where dynamic import is unavailable (jest without VM modules).
 */
const VARIANT: QuickJSSyncVariant = { ...RELEASE_SYNC, importModuleLoader: async () => requireLoader() };

/**
 * The linear memory an instance is given (Emscripten's `wasmMemory`): a WebAssembly.Memory, here
 * typed by what the engine uses (the project's TS lib has no WebAssembly typings).
 */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

let loading: Promise<QuickJSWASMModule> | undefined;
let loaded: QuickJSWASMModule | undefined;

export function loadQuickJs(): Promise<QuickJSWASMModule> {
  if (loaded) return Promise.resolve(loaded);
  loading ??= newQuickJSWASMModule(VARIANT).then(
    (module) => (loaded = module),
    (error: unknown) => {
      loading = undefined;
      throw error;
    },
  );
  return loading;
}

interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  instantiate(module: object, imports: unknown): Promise<object>;
}
const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
let compiled: object | undefined;

/** The QuickJS WASM binary, compiled once per thread: every engine instantiates the same code. */
function compiledQuickJs(): object {
  if (!compiled) {
    const fromQuickJs = createRequire(require.resolve('quickjs-emscripten'));
    compiled = new Wasm.Module(readFileSync(fromQuickJs.resolve('@jitl/quickjs-wasmfile-release-sync/wasm')));
  }
  return compiled;
}

/**
 * A module instance of its own, for one snapshot engine, running in `memory` (Emscripten grows the
 * heap by calling `memory.grow`, so whoever made the memory decides how far it may grow). The code
 * is compiled once per thread; compiling it for every engine cost 15-80 ms of CPU each.
 */
export function newQuickJsInstance(memory?: WasmMemory): Promise<QuickJSWASMModule> {
  if (!memory) return newQuickJSWASMModule(VARIANT);
  const loader = requireLoader() as unknown as (arg?: Record<string, unknown>) => Promise<unknown>;
  const wasmModule = compiledQuickJs();
  const withMemory = ((arg?: Record<string, unknown>) =>
    loader({
      ...arg,
      wasmMemory: memory,
      instantiateWasm: (imports: unknown, onSuccess: (instance: object) => void) => {
        void Wasm.instantiate(wasmModule, imports).then(onSuccess);
        return {};
      },
    })) as unknown as ModuleLoader;
  return newQuickJSWASMModule({ ...VARIANT, importModuleLoader: async () => withMemory });
}

/** Forgets a module whose memory can no longer be trusted; the next `loadQuickJs()` instantiates a new one. */
export function discardQuickJs(module: QuickJSWASMModule): void {
  if (loaded === module) {
    loaded = undefined;
    loading = undefined;
  }
}
