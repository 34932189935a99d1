/**
 * The SCIM connector's HTTP: one undici keep-alive Pool per origin sized by maxConnections, the
 * credentials on every request, JSON in and out (`application/scim+json`), redirects followed only within
 * the base URL's origin, and every failure turned into a ConnectorError (scim-errors.ts).
 */
import { Pool } from 'undici';
import { ConnectorError, ConnectorErrorCode } from '../connector-errors';
import { httpError, networkError } from './scim-errors';
import { ScimConfig, ScimCredentials } from './scim-config';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface ScimResponse<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The parsed JSON body; undefined for an empty body (204). */
  body: T | undefined;
}

export interface ScimRequest {
  method: HttpMethod;
  /** Path under the base URL (`/Users/abc`), query included, already encoded. */
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  signal: AbortSignal;
  /** Statuses returned to the caller instead of thrown (get treats 404 as "no such object"). */
  accept?: number[];
}

const MAX_REDIRECTS = 3;
const MAX_BODY_BYTES = 256 * 1024 * 1024;

export class ScimHttp {
  private readonly base: URL;
  private readonly pool: Pool;
  private readonly authorization: string;

  constructor(
    private readonly config: ScimConfig,
    credentials: ScimCredentials,
  ) {
    this.base = new URL(config.baseUrl.replace(/\/+$/, ''));
    if (config.auth === 'bearer') {
      if (!('token' in credentials)) throw new ConnectorError(ConnectorErrorCode.InvalidConfig, 'auth is bearer but the credentials have no token');
      this.authorization = `Bearer ${credentials.token}`;
    } else {
      if (!('username' in credentials)) throw new ConnectorError(ConnectorErrorCode.InvalidConfig, 'auth is basic but the credentials have no username and password');
      if (credentials.username.includes(':')) throw new ConnectorError(ConnectorErrorCode.InvalidConfig, 'a basic username cannot contain ":"');
      this.authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64')}`;
    }
    const { maxConnections, timeoutMs } = config.limits;
    this.pool = new Pool(this.base.origin, {
      connections: maxConnections,
      keepAliveTimeout: 30_000,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      connect: { timeout: Math.min(timeoutMs, 10_000), ...(this.base.protocol === 'https:' ? { ca: config.tls.ca, rejectUnauthorized: config.tls.rejectUnauthorized } : {}) },
    });
  }

  get origin(): string {
    return this.base.origin;
  }

  async request<T = unknown>(request: ScimRequest): Promise<ScimResponse<T>> {
    const what = `SCIM ${request.method} ${request.path.split('?')[0]}`;
    let path = `${this.base.pathname.replace(/\/$/, '')}${request.path}`;
    let method = request.method;
    for (let hop = 0; ; hop++) {
      const response = await this.send(what, method, path, request);
      const { statusCode: status, headers } = response;
      if (status >= 300 && status < 400 && status !== 304) {
        await response.body.dump().catch(() => undefined);
        const location = single(headers.location);
        if (!location) throw new ConnectorError(ConnectorErrorCode.InvalidResponse, `${what}: HTTP ${status} without a Location`, { targetStatus: status });
        const next = new URL(location, `${this.base.origin}${path}`);
        if (next.origin !== this.base.origin) {
          throw new ConnectorError(ConnectorErrorCode.InvalidConfig, `${what}: redirected to another origin (${next.origin}); set the base URL to the service's own address`, {
            targetStatus: status,
          });
        }
        // 301/302/303 may turn a write into a GET in browsers: for an API call that would lose the write.
        if (status !== 307 && status !== 308 && method !== 'GET') {
          throw new ConnectorError(ConnectorErrorCode.InvalidConfig, `${what}: HTTP ${status} redirect of a ${method} (only 307/308 keep the method)`, { targetStatus: status });
        }
        if (hop + 1 >= MAX_REDIRECTS) throw new ConnectorError(ConnectorErrorCode.InvalidResponse, `${what}: more than ${MAX_REDIRECTS} redirects`, { targetStatus: status });
        path = `${next.pathname}${next.search}`;
        method = status === 303 ? 'GET' : method;
        continue;
      }
      const body = await this.readJson(what, response, status);
      if (status >= 200 && status < 300) return { status, headers, body: body as T | undefined };
      if (request.accept?.includes(status)) return { status, headers, body: body as T | undefined };
      throw httpError(what, status, body, headers, method);
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  private async send(what: string, method: HttpMethod, path: string, request: ScimRequest) {
    const headers: Record<string, string> = {
      ...this.config.headers,
      ...request.headers,
      authorization: this.authorization,
      accept: 'application/scim+json, application/json',
    };
    let payload: string | undefined;
    if (request.body !== undefined) {
      payload = JSON.stringify(request.body);
      headers['content-type'] = 'application/scim+json';
    }
    try {
      return await this.pool.request({ method, path, headers, body: payload, signal: request.signal });
    } catch (error) {
      if (request.signal.aborted && request.signal.reason instanceof ConnectorError) throw request.signal.reason;
      throw networkError(what, error);
    }
  }

  private async readJson(what: string, response: Awaited<ReturnType<Pool['request']>>, status: number): Promise<unknown> {
    let text: string;
    try {
      const length = Number(single(response.headers['content-length']) ?? 0);
      if (length > MAX_BODY_BYTES) {
        await response.body.dump().catch(() => undefined);
        throw new ConnectorError(ConnectorErrorCode.InvalidResponse, `${what}: a ${length}-byte answer is larger than ${MAX_BODY_BYTES}`, { targetStatus: status });
      }
      text = await response.body.text();
    } catch (error) {
      if (error instanceof ConnectorError) throw error;
      // The body stopped arriving (socket closed, body timeout): a retry may get it whole.
      throw networkError(`${what}: reading the answer`, error);
    }
    if (text.length === 0) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // An error status with a non-JSON body (a proxy's HTML page) is still that status's error.
      if (status >= 400) return undefined;
      throw new ConnectorError(ConnectorErrorCode.InvalidResponse, `${what}: the answer is not JSON (${text.length} bytes, cut short?)`, { targetStatus: status });
    }
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
