// QuickJS WebAssembly modules (the release build of the synchronous variant): the shared one of this
// thread (compiling and validating; dropped and reloaded when it faulted), and private instances,
// one per snapshot engine (engine/snapshot-engine.ts).
import { createRequire } from 'node:module';
import { newQuickJSWASMModule, RELEASE_SYNC, type QuickJSSyncVariant, type QuickJSWASMModule } from 'quickjs-emscripten';

/**
 * RELEASE_SYNC with its Emscripten loader taken by `require` instead of a dynamic `import()`: same
 * files, but it also loads where dynamic import is unavailable (jest without VM modules).
 */
const VARIANT: QuickJSSyncVariant = {
  ...RELEASE_SYNC,
  importModuleLoader: async () => {
    const fromQuickJs = createRequire(require.resolve('quickjs-emscripten'));
    const loader = fromQuickJs('@jitl/quickjs-wasmfile-release-sync/emscripten-module') as { default?: unknown };
    return (loader.default ?? loader) as Awaited<ReturnType<QuickJSSyncVariant['importModuleLoader']>>;
  },
};

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

/** A module instance of its own (its own linear memory), for one snapshot engine. */
export function newQuickJsInstance(): Promise<QuickJSWASMModule> {
  return newQuickJSWASMModule(VARIANT);
}

/** Forgets a module whose memory can no longer be trusted; the next `loadQuickJs()` instantiates a new one. */
export function discardQuickJs(module: QuickJSWASMModule): void {
  if (loaded === module) {
    loaded = undefined;
    loading = undefined;
  }
}
