// A leaner C -> host call path for a context's host functions.
//
// quickjs-emscripten routes every call from QuickJS into a host function through a generator-based
// scope helper (`Scope.withScopeMaybeAsync`), built to also serve its asyncify variants. Under load
// that path made V8's young-generation collections ~6x slower (5-6 ms per scavenge instead of ~1 ms,
// measured with --trace-gc), which showed up directly in the sandbox's p99 latency. This module
// re-registers the context's callback with a plain function doing the same work for the sync variant.
// It relies on internals of quickjs-emscripten 0.31 (the module callback registry, the context's
// FFI, memory helpers and function table); it checks they are all there and otherwise leaves the
// library's own path in place, so an upgrade degrades speed, never behaviour.
import { WeakLifetime, type QuickJSContext, type QuickJSHandle, type QuickJSRuntime } from 'quickjs-emscripten';

type Pointer = number;
type HostFunction = (this: QuickJSHandle, ...args: QuickJSHandle[]) => QuickJSHandle | { value?: QuickJSHandle; error?: QuickJSHandle } | void;

interface RuntimeInternals {
  callbacks?: { setContextCallbacks?: (ctx: Pointer, callbacks: { callFunction: (...args: number[]) => Pointer }) => void };
}
interface ContextInternals {
  ctx?: { value?: Pointer };
  ffi?: {
    QTS_ArgvGetJSValueConstPointer?: (argv: Pointer, index: number) => Pointer;
    QTS_DupValuePointer?: (ctx: Pointer, value: Pointer) => Pointer;
    QTS_Throw?: (ctx: Pointer, error: Pointer) => Pointer;
  };
  memory?: { copyJSValue?: (ptr: Pointer) => Pointer; freeJSValue?: (ptr: Pointer) => void };
  getFunction?: (id: number) => HostFunction | undefined;
}

function toErrorHandle(vm: QuickJSContext, error: unknown): QuickJSHandle {
  if (error instanceof Error) return vm.newError({ name: error.name, message: error.message });
  return vm.newError(String(error));
}

/** Installs the lean call path on `vm`; returns false (and changes nothing) if the internals differ. */
export function installFastHostCalls(rt: QuickJSRuntime, vm: QuickJSContext): boolean {
  const callbacks = (rt as unknown as RuntimeInternals).callbacks;
  const internals = vm as unknown as ContextInternals;
  const ctxPtr = internals.ctx?.value;
  const ffi = internals.ffi;
  const memory = internals.memory;
  const argv = ffi?.QTS_ArgvGetJSValueConstPointer;
  const dup = ffi?.QTS_DupValuePointer;
  const raise = ffi?.QTS_Throw;
  const copy = memory?.copyJSValue;
  const free = memory?.freeJSValue;
  const getFunction = internals.getFunction;
  if (!callbacks?.setContextCallbacks || typeof ctxPtr !== 'number' || !argv || !dup || !raise || !copy || !free || typeof getFunction !== 'function') {
    return false;
  }
  const undefinedHandle = vm.undefined;
  callbacks.setContextCallbacks(ctxPtr, {
    callFunction: (ctx: Pointer, _thisPtr: Pointer, argc: number, argvPtr: Pointer, fnId: number): Pointer => {
      const fn = getFunction.call(vm, fnId);
      if (!fn) return raiseError(new Error(`no host function ${fnId}`));
      const args = new Array<QuickJSHandle>(argc);
      for (let i = 0; i < argc; i++) args[i] = new WeakLifetime(argv(argvPtr, i), copy, free, rt) as unknown as QuickJSHandle;
      try {
        const result = fn.apply(undefinedHandle, args);
        if (!result) return 0;
        if ('alive' in result) {
          const ptr = dup(ctx, (result as QuickJSHandle).value as unknown as Pointer);
          (result as QuickJSHandle).dispose();
          return ptr;
        }
        const outcome = result as { value?: QuickJSHandle; error?: QuickJSHandle };
        if (outcome.error) {
          const ptr = raise(ctx, outcome.error.value as unknown as Pointer);
          outcome.error.dispose();
          return ptr;
        }
        if (!outcome.value) return 0;
        const ptr = dup(ctx, outcome.value.value as unknown as Pointer);
        outcome.value.dispose();
        return ptr;
      } catch (error) {
        return raiseError(error);
      } finally {
        for (let i = 0; i < argc; i++) args[i].dispose();
      }
    },
  });
  function raiseError(error: unknown): Pointer {
    const handle = toErrorHandle(vm, error);
    const ptr = raise!(ctxPtr as Pointer, handle.value as unknown as Pointer);
    handle.dispose();
    return ptr;
  }
  return true;
}
