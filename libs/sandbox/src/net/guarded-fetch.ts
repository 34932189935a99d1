// The HTTP call behind a script's `fetch`, made by the host (the worker thread), never by the VM.
// Destinations are checked twice, both before any byte is sent: the URL (scheme, refused names, IP
// literals) up front for a clear error, and every address the name resolves to inside the connector,
// so redirects and DNS answers that change between check and connect cannot slip through. Only ports
// 80 and 443 are reached unless the tenant allows more ports, or lists the host; the Host header is the URL's, never the
// script's; a redirect to another origin loses the request's credentials (Authorization, Cookie,
// Proxy-*), as a browser's fetch does.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import type { SandboxFetchRequest, SandboxFetchResponse } from '../types';
import { blockedAddressReason, blockedNameReason, isHostAllowed } from './address-policy';

export const FETCH_MAX_TIMEOUT_MS = 10_000;
export const FETCH_MAX_RESPONSE_BYTES = 1024 * 1024;
export const FETCH_MAX_REQUEST_BODY_BYTES = 1024 * 1024;
export const FETCH_MAX_REDIRECTS = 5;
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** Ports every tenant's scripts may reach. */
export const FETCH_DEFAULT_PORTS: readonly number[] = [80, 443];
/** Request headers that do not follow a redirect to another origin. */
const CREDENTIAL_HEADER = /^(authorization|cookie|proxy-.*)$/i;

/** A fetch the sandbox refused; its message is what the script sees. */
export class FetchRefusedError extends Error {
  override name = 'FetchRefusedError';
}

export type ResolveAll = (hostname: string) => Promise<LookupAddress[]>;

export interface GuardedFetchOptions {
  allowedHosts?: readonly string[];
  /** Ports allowed besides 80 and 443. */
  allowedPorts?: readonly number[];
  timeoutMs: number;
  maxResponseBytes?: number;
  /** Aborts the call when the run ends (timeout, failure). */
  signal?: AbortSignal;
  /** Name resolution; `dns.lookup(name, { all: true })` unless a test injects one. */
  resolveAll?: ResolveAll;
}

const systemResolveAll: ResolveAll = (hostname) =>
  new Promise((resolve, reject) => dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));

const hint = 'a tenant reaches such a host only by listing it in its allowed hosts';

/** Throws FetchRefusedError when the URL may not be fetched; returns the parsed URL otherwise. */
export function checkFetchUrl(rawUrl: string, allowedHosts?: readonly string[], allowedPorts?: readonly number[]): URL {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new FetchRefusedError(`fetch refused: "${String(rawUrl).slice(0, 200)}" is not an absolute URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new FetchRefusedError(`fetch refused: only http and https URLs are allowed, not ${url.protocol}`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!host) throw new FetchRefusedError('fetch refused: the URL has no host');
  // A host the tenant lists is its own system: any port of it, as any address.
  if (isHostAllowed(host, allowedHosts)) return url;
  const nameReason = blockedNameReason(host);
  if (nameReason) throw new FetchRefusedError(`fetch refused: ${url.hostname} is a ${nameReason} host (${hint})`);
  if (isIP(host)) {
    const reason = blockedAddressReason(host);
    if (reason) throw new FetchRefusedError(`fetch refused: ${url.hostname} is a ${reason} address (${hint})`);
  }
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  if (!FETCH_DEFAULT_PORTS.includes(port) && !allowedPorts?.includes(port)) {
    throw new FetchRefusedError(`fetch refused: port ${port} is not allowed (scripts reach ports 80 and 443; a tenant allows others in its allowed ports)`);
  }
  return url;
}

/** Resolves `hostname` and refuses it when any of its addresses is not public. */
export async function resolvePublicAddresses(hostname: string, allowedHosts: readonly string[] | undefined, resolveAll: ResolveAll): Promise<LookupAddress[]> {
  let addresses: LookupAddress[];
  try {
    addresses = await resolveAll(hostname);
  } catch (error) {
    throw new FetchRefusedError(`fetch failed: cannot resolve ${hostname} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  if (addresses.length === 0) throw new FetchRefusedError(`fetch failed: ${hostname} has no address`);
  if (!isHostAllowed(hostname, allowedHosts)) {
    for (const { address } of addresses) {
      const reason = blockedAddressReason(address);
      if (reason) throw new FetchRefusedError(`fetch refused: ${hostname} resolves to ${address}, a ${reason} address (${hint})`);
    }
  }
  return addresses;
}

type Undici = typeof import('undici');
let undici: Undici | undefined;
// Loaded on first use: most workers never fetch, and undici costs start-up time.
const loadUndici = (): Undici => (undici ??= require('undici') as Undici);

/** Throws FetchRefusedError for a request the sandbox does not send (method, headers, body size). */
export function checkFetchRequest(req: SandboxFetchRequest): void {
  if (!METHODS.has(req.method)) throw new FetchRefusedError(`fetch refused: method ${req.method.slice(0, 20)} is not allowed`);
  for (const name of Object.keys(req.headers)) {
    if (name.trim().toLowerCase() === 'host') throw new FetchRefusedError('fetch refused: a script cannot set the Host header (it is the URL\'s host)');
  }
  if (req.body !== null && Buffer.byteLength(req.body) > FETCH_MAX_REQUEST_BODY_BYTES) {
    throw new FetchRefusedError(`fetch refused: request body is over ${FETCH_MAX_REQUEST_BODY_BYTES} bytes`);
  }
}

/** Reads a body up to `max` bytes; more is an error (the script gets nothing rather than a truncated document). */
async function readCapped(body: ReadableStream<Uint8Array> | null, max: number, abort: () => void): Promise<string> {
  if (!body) return '';
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      abort();
      await reader.cancel().catch(() => undefined);
      throw new FetchRefusedError(`fetch failed: response body is over ${max} bytes`);
    }
    chunks.push(value);
  }
  return new TextDecoder('utf-8').decode(Buffer.concat(chunks));
}

function withoutCredentials(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !CREDENTIAL_HEADER.test(name.trim())));
}

function headersToObject(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, key) => {
    out[key] = key in out ? `${out[key]}, ${value}` : value;
  });
  return out;
}

function describeFailure(error: unknown, timeoutMs: number, timedOut: boolean): Error {
  if (error instanceof FetchRefusedError) return error;
  const cause = (error as { cause?: unknown })?.cause;
  if (cause instanceof FetchRefusedError) return cause;
  if (timedOut) return new Error(`fetch failed: no response within ${timeoutMs} ms`);
  if ((error as Error)?.name === 'AbortError') return new Error('fetch aborted: the run ended');
  const detail = cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error);
  return new Error(`fetch failed: ${detail}`);
}

/** Performs one HTTP request for a script under the sandbox's destination rules. */
export async function guardedFetch(req: SandboxFetchRequest, options: GuardedFetchOptions): Promise<SandboxFetchResponse & { url: string }> {
  checkFetchRequest(req);
  const allowed = options.allowedHosts;
  const ports = options.allowedPorts;
  let url = checkFetchUrl(req.url, allowed, ports);
  const resolveAll = options.resolveAll ?? systemResolveAll;
  const { Agent, buildConnector, fetch } = loadUndici();
  const timeoutMs = Math.max(1, Math.min(options.timeoutMs, FETCH_MAX_TIMEOUT_MS));
  const maxBytes = options.maxResponseBytes ?? FETCH_MAX_RESPONSE_BYTES;

  // Every connection (first request and each redirect hop) passes this connector.
  const lookup = (hostname: string, opts: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    resolvePublicAddresses(hostname, allowed, resolveAll).then(
      (addresses) => (opts?.all ? callback(null, addresses) : callback(null, addresses[0].address, addresses[0].family)),
      (error: unknown) => callback(error),
    );
  };
  const base = buildConnector({ timeout: timeoutMs, lookup: lookup as never });
  const agent = new Agent({
    connect: (connectOptions, callback) => {
      try {
        const h = connectOptions.hostname;
        const host = isIP(h) === 6 && !h.startsWith('[') ? `[${h}]` : h;
        checkFetchUrl(`${connectOptions.protocol}//${host}${connectOptions.port ? `:${connectOptions.port}` : ''}/`, allowed, ports);
      } catch (error) {
        callback(error as Error, null);
        return;
      }
      base(connectOptions, callback);
    },
    connections: 1,
  });

  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const onRunAbort = () => controller.abort();
  options.signal?.addEventListener('abort', onRunAbort, { once: true });
  try {
    let method = req.method;
    let body: string | null = req.body;
    let headers = req.headers;
    for (let hop = 0; ; hop++) {
      const response = await fetch(url, {
        method,
        headers,
        body: method === 'GET' || method === 'HEAD' ? undefined : (body ?? undefined),
        redirect: 'manual',
        signal: controller.signal,
        dispatcher: agent,
      });
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location && hop < FETCH_MAX_REDIRECTS) {
        await response.body?.cancel().catch(() => undefined);
        const next = checkFetchUrl(new URL(location, url).toString(), allowed, ports);
        if (next.origin !== url.origin) headers = withoutCredentials(headers);
        url = next;
        if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === 'POST')) {
          method = 'GET';
          body = null;
        }
        continue;
      }
      const text = await readCapped(response.body, maxBytes, () => controller.abort());
      return { status: response.status, headers: headersToObject(response.headers), body: text, url: url.toString() };
    }
  } catch (error) {
    throw describeFailure(error, timeoutMs, timedOut);
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onRunAbort);
    agent.destroy().catch(() => undefined);
  }
}
