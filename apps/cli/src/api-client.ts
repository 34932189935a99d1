import type { CliConfig } from './cli-config';

/** An answer other than 2xx, with the service's error body (docs/api.md). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: { code?: string; message?: string; field?: string; details?: unknown } | undefined,
    readonly path: string,
  ) {
    super(`${status} ${body?.code ?? ''}: ${body?.message ?? 'request failed'}${body?.field ? ` (field ${body.field})` : ''}`.replace(' :', ':'));
  }
}

/** The registry's and the worker's HTTP API, as the CLI uses them. Every request says it comes from a person's tool. */
export class ApiClient {
  constructor(private readonly config: CliConfig) {}

  registry<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.call<T>(this.config.url, method, path, body);
  }

  worker<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.call<T>(this.config.workerUrl, method, path, body);
  }

  /** Every item of a paged list. */
  async all<T>(path: string, query: Record<string, string> = {}): Promise<T[]> {
    const items: T[] = [];
    for (let offset = 0; ; ) {
      const page = await this.registry<{ items: T[]; total: number }>('GET', `${path}?${new URLSearchParams({ ...query, limit: '200', offset: String(offset) })}`);
      items.push(...page.items);
      offset += page.items.length;
      if (page.items.length === 0 || offset >= page.total) return items;
    }
  }

  private async call<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.config.token}`,
        // Runs started from here are `manual` (a person), not `api` (docs/registry.md, "Run now").
        'x-provisio-client': 'cli',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const parsed = text ? (JSON.parse(text) as unknown) : undefined;
    if (!response.ok) throw new ApiError(response.status, parsed as ApiError['body'], path);
    return parsed as T;
  }
}
