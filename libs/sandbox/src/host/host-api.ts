// Installs the host API (HOST_API_VERSION) into a fresh QuickJS context: `console`, `fetch`,
// `crypto.randomUUID`, `helpers`, `HOST_API_VERSION`. Everything is built from the host side through
// the FFI instead of by evaluating a JavaScript prelude: parsing even 3 KB of prelude in every new
// context cost ~380 µs, building the same objects directly costs a fraction of that.
// Values cross the boundary only as strings, numbers and JSON — never as host objects — so nothing a
// script does to what it receives (prototypes included) reaches the host or the next run.
import { randomUUID } from 'node:crypto';
import type { QuickJSContext, QuickJSHandle } from 'quickjs-emscripten';
import { HELPERS, HELPER_NAMES } from './helpers';

/** Version of the API a script sees (ctx, console, fetch, crypto, helpers). Bump on any breaking change. */
export const HOST_API_VERSION = 1;

/** File name scripts are compiled under; error locations are reported against it. */
export const SCRIPT_FILENAME = 'script.js';

export const CONSOLE_LEVELS = ['log', 'info', 'warn', 'error', 'debug'] as const;
export type ConsoleLevel = (typeof CONSOLE_LEVELS)[number];

export interface FetchCall {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | null;
}

/** What the installed API calls back into; implemented by the run that owns the context. */
export interface HostBridge {
  /** False once the run's log budget is spent (arguments are then not even read). */
  logOpen(): boolean;
  log(level: ConsoleLevel, message: string): void;
  /** Starts a fetch and returns the VM promise handle the script awaits. */
  fetch(call: FetchCall): QuickJSHandle;
}

const MAX_HEADER_COUNT = 100;
/** What a NUL in a logged string becomes (U+FFFD, as in `toStorableText` of `@provisio/platform`). */
const REPLACEMENT_CHARACTER = '\uFFFD';

/** Renders one console argument the way a developer expects to read it. */
export function formatValue(vm: QuickJSContext, handle: QuickJSHandle): string {
  const type = vm.typeof(handle);
  switch (type) {
    case 'string':
      return fullString(vm, handle);
    case 'number':
      return String(vm.getNumber(handle));
    case 'undefined':
      return 'undefined';
    case 'function':
      return '[Function]';
    case 'symbol':
      return 'Symbol()';
    default: {
      const dumped: unknown = vm.dump(handle);
      if (dumped && typeof dumped === 'object') {
        const e = dumped as { name?: unknown; message?: unknown; stack?: unknown };
        if (typeof e.message === 'string' && 'stack' in e) return `${typeof e.name === 'string' ? e.name : 'Error'}: ${e.message}`;
      }
      if (typeof dumped === 'string') return dumped;
      const json = JSON.stringify(dumped);
      return json === undefined ? String(dumped) : json;
    }
  }
}

/**
 * A VM string whole. `getString` reads a C string, which ends at the first NUL: a string holding one (its
 * VM length is longer than what was read) is read again through QuickJS's JSON, which escapes NUL, and
 * each NUL becomes U+FFFD, the escaping of every stored text (`toStorableText` of `@provisio/platform`).
 * Other strings cost one length lookup.
 */
function fullString(vm: QuickJSContext, handle: QuickJSHandle): string {
  const read = vm.getString(handle);
  const lengthHandle = vm.getProp(handle, 'length');
  const length = vm.getNumber(lengthHandle);
  lengthHandle.dispose();
  if (read.length >= length) return read;
  const box = vm.newArray();
  vm.setProp(box, 0, handle);
  const dumped: unknown = vm.dump(box);
  box.dispose();
  // A script that redefined Array.prototype.toJSON only spoils its own line: the part before the NUL, marked.
  if (!Array.isArray(dumped) || typeof dumped[0] !== 'string') return read + REPLACEMENT_CHARACTER;
  return dumped[0].replaceAll('\u0000', REPLACEMENT_CHARACTER);
}

/** Plain data from a VM value (via QuickJS's own JSON), for arguments of host functions. */
function toHost(vm: QuickJSContext, handle: QuickJSHandle | undefined): unknown {
  if (!handle) return undefined;
  const type = vm.typeof(handle);
  if (type === 'string') return vm.getString(handle);
  if (type === 'number') return vm.getNumber(handle);
  if (type === 'undefined') return undefined;
  if (type === 'function' || type === 'symbol') return undefined;
  return vm.dump(handle);
}

function setFunction(vm: QuickJSContext, target: QuickJSHandle, name: string, fn: (...args: QuickJSHandle[]) => QuickJSHandle | undefined): void {
  const handle = vm.newFunction(name, fn);
  vm.setProp(target, name, handle);
  handle.dispose();
}

function parseFetchArgs(vm: QuickJSContext, urlHandle: QuickJSHandle | undefined, initHandle: QuickJSHandle | undefined): FetchCall {
  if (!urlHandle || vm.typeof(urlHandle) !== 'string') throw new TypeError('fetch(url, init): url must be a string');
  const url = vm.getString(urlHandle);
  const init = toHost(vm, initHandle);
  if (init !== undefined && init !== null && typeof init !== 'object') throw new TypeError('fetch(url, init): init must be an object');
  const o = (init ?? {}) as { method?: unknown; headers?: unknown; body?: unknown };
  const headers: Record<string, string> = {};
  if (o.headers !== undefined && o.headers !== null) {
    if (typeof o.headers !== 'object' || Array.isArray(o.headers)) throw new TypeError('fetch: headers must be an object of strings');
    const entries = Object.entries(o.headers as Record<string, unknown>);
    if (entries.length > MAX_HEADER_COUNT) throw new TypeError(`fetch: more than ${MAX_HEADER_COUNT} headers`);
    for (const [k, v] of entries) headers[k] = String(v);
  }
  let body: string | null = null;
  if (o.body !== undefined && o.body !== null) body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
  const method = o.method === undefined || o.method === null ? 'GET' : String(o.method).toUpperCase();
  return { url, method, headers, body };
}

/** Defines the host API on `vm`'s global object. */
export function installHostApi(vm: QuickJSContext, bridge: HostBridge): void {
  const global = vm.global;

  const consoleObject = vm.newObject();
  for (const level of CONSOLE_LEVELS) {
    setFunction(vm, consoleObject, level, (...args) => {
      if (!bridge.logOpen()) return undefined;
      let line = '';
      for (let i = 0; i < args.length; i++) line += (i ? ' ' : '') + formatValue(vm, args[i]);
      bridge.log(level, line);
      return undefined;
    });
  }
  vm.setProp(global, 'console', consoleObject);
  consoleObject.dispose();

  setFunction(vm, global, 'fetch', (url, init) => bridge.fetch(parseFetchArgs(vm, url, init)));

  const crypto = vm.newObject();
  setFunction(vm, crypto, 'randomUUID', () => vm.newString(randomUUID()));
  vm.setProp(global, 'crypto', crypto);
  crypto.dispose();

  const helpers = vm.newObject();
  for (const name of HELPER_NAMES) {
    const helper = HELPERS[name];
    setFunction(vm, helpers, name, (...args) => {
      const out = helper(...args.map((a) => toHost(vm, a)));
      return typeof out === 'string' ? vm.newString(out) : vm.undefined;
    });
  }
  vm.setProp(global, 'helpers', helpers);
  helpers.dispose();

  const version = vm.newNumber(HOST_API_VERSION);
  vm.setProp(global, 'HOST_API_VERSION', version);
  version.dispose();
}

/**
 * Builds the object a script's `await fetch()` resolves to: `{ status, ok, url, headers, text(), json() }`.
 * `parse` is the VM's own JSON.parse, captured before the script ran.
 */
export function newFetchResponse(
  vm: QuickJSContext,
  parse: QuickJSHandle,
  json: QuickJSHandle,
  response: { status: number; url: string; headers: Record<string, string>; body: string },
): QuickJSHandle {
  const meta = vm.newString(JSON.stringify({ status: response.status, ok: response.status >= 200 && response.status < 300, url: response.url, headers: response.headers }));
  const result = vm.callFunction(parse, json, meta);
  meta.dispose();
  const object = vm.unwrapResult(result);
  const body = response.body;
  setFunction(vm, object, 'text', () => {
    const deferred = vm.newPromise();
    const value = vm.newString(body);
    deferred.resolve(value);
    value.dispose();
    return deferred.handle;
  });
  setFunction(vm, object, 'json', () => {
    const deferred = vm.newPromise();
    const text = vm.newString(body);
    const parsed = vm.callFunction(parse, json, text);
    text.dispose();
    if (parsed.error) {
      deferred.reject(parsed.error);
      parsed.error.dispose();
    } else {
      deferred.resolve(parsed.value);
      parsed.value.dispose();
    }
    return deferred.handle;
  });
  return object;
}
