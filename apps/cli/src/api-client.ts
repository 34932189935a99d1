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

  /**
   * Follows a Server-Sent Events stream of the registry (`GET /executions/stream`): calls `onEvent` for
   * each event, and reconnects from the last event's id (`Last-Event-ID`) when the connection drops,
   * until `signal` aborts. A refusal (4xx) ends it with an ApiError.
   */
  async follow(path: string, onEvent: (event: { type: string; id?: string; data: string }) => void, signal: AbortSignal): Promise<void> {
    let lastId: string | undefined;
    while (!signal.aborted) {
      let response: Response;
      try {
        response = await fetch(`${this.config.url}${path}`, {
          headers: { authorization: `Bearer ${this.config.token}`, accept: 'text/event-stream', 'x-provisio-client': 'cli', ...(lastId ? { 'last-event-id': lastId } : {}) },
          signal,
        });
      } catch (error) {
        if (signal.aborted) return;
        throw error;
      }
      if (!response.ok || !response.body) {
        const text = await response.text();
        throw new ApiError(response.status, text ? (JSON.parse(text) as ApiError['body']) : undefined, path);
      }
      try {
        await readEvents(response.body, (event) => {
          if (event.id) lastId = event.id;
          onEvent(event);
        });
      } catch {
        // The connection dropped mid-stream: reconnect after a pause and resume after the last event.
        if (signal.aborted) return;
      }
      if (!signal.aborted) await new Promise((resolve) => setTimeout(resolve, 1000));
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

/** Parses a `text/event-stream` body into events (fields `event`, `id`, `data`; comments ignored). */
async function readEvents(body: ReadableStream<Uint8Array>, onEvent: (event: { type: string; id?: string; data: string }) => void): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = '';
  let event: { type: string; id?: string; data: string[] } = { type: 'message', data: [] };
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline).replace(/\r$/, '');
      buffer = buffer.slice(newline + 1);
      if (line === '') {
        if (event.data.length) onEvent({ type: event.type, id: event.id, data: event.data.join('\n') });
        event = { type: 'message', data: [] };
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event.type = value;
      else if (field === 'id') event.id = value;
      else if (field === 'data') event.data.push(value);
    }
  }
}
