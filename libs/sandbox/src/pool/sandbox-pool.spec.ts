// The pool with real worker threads (jest runs the TypeScript sources; see worker-spawn.ts).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SandboxBusyError } from './sandbox-busy.error';
import { SandboxPool } from './sandbox-pool';
import type { SandboxFetchRequest } from '../types';

jest.setTimeout(30_000);

describe('SandboxPool', () => {
  let pool: SandboxPool;
  let server: Server;
  let port: number;
  let connections = 0;

  beforeAll(async () => {
    pool = new SandboxPool({ size: 2 });
    server = createServer((req, res) => {
      if (req.url === '/redirect') {
        res.writeHead(302, { location: `http://127.0.0.2:${port}/` }).end();
        return;
      }
      if (req.url === '/big') {
        res.writeHead(200).end('x'.repeat(2 * 1024 * 1024));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'x-seen': req.method ?? '' }).end(JSON.stringify({ path: req.url }));
    });
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    await pool.ready();
  });

  afterAll(async () => {
    await pool.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('runs scripts on worker threads', async () => {
    const result = await pool.execute({
      source: 'export default async (ctx) => { console.info("hi", ctx.identity.first); return helpers.username(ctx.identity) }',
      context: { identity: { first: 'Émile', last: 'Zola' } },
      tenantId: 'tenant-a',
    });
    expect(result).toMatchObject({ status: 'completed', output: 'emile.zola', error: null, logs: [{ level: 'info', message: 'hi Émile' }] });
    expect(pool.stats()).toMatchObject({ size: 2, ready: 2, inFlight: 0, queued: 0 });
  });

  it('keeps every worker busy with many runs in flight', async () => {
    const runs = Array.from({ length: 200 }, (_, i) =>
      pool.execute({ source: 'export default async (ctx) => ctx.input.i * 2', context: { input: { i } }, tenantId: 't' }),
    );
    const results = await Promise.all(runs);
    expect(results.map((r) => r.output)).toEqual(Array.from({ length: 200 }, (_, i) => i * 2));
  });

  it('validates in a worker', async () => {
    await expect(pool.validate('export default async (ctx) => {\n  return ctx.\n}')).resolves.toMatchObject({
      valid: false,
      errors: [{ line: 3, column: expect.any(Number) }],
    });
    await expect(pool.validate('export default async () => 1')).resolves.toEqual({ valid: true, errors: [], warnings: [] });
  });

  it('answers fetch with the caller fetchImpl in a dry run (no network)', async () => {
    const calls: SandboxFetchRequest[] = [];
    const result = await pool.execute({
      source: `export default async () => {
        const r = await fetch('https://hr.example.com/api/users', { method: 'PUT', body: { a: 1 } });
        return { status: r.status, body: await r.text() };
      }`,
      tenantId: 't',
      fetchImpl: (request) => {
        calls.push(request);
        return { status: 599, body: 'dry run: not sent' };
      },
    });
    expect(result.output).toEqual({ status: 599, body: 'dry run: not sent' });
    expect(calls).toEqual([{ url: 'https://hr.example.com/api/users', method: 'PUT', headers: {}, body: '{"a":1}' }]);
    expect(result.metrics.api_call_count).toBe(1);
  });

  it('still refuses private destinations in a dry run', async () => {
    const fetchImpl = jest.fn(() => ({ status: 200 }));
    const result = await pool.execute({
      source: 'export default async () => fetch("http://169.254.169.254/latest").then(() => "sent", (e) => e.message)',
      tenantId: 't',
      fetchImpl,
    });
    expect(result.output).toMatch(/fetch refused: 169\.254\.169\.254 is a cloud metadata address/);
    expect(fetchImpl).not.toHaveBeenCalled();
  });

  it('counts API calls per script per minute across runs', async () => {
    const source = 'export default async () => { const out = []; for (let i = 0; i < 3; i++) { try { out.push((await fetch("https://x.example/")).status) } catch (e) { out.push(e.message) } } return out }';
    const request = { source, tenantId: 't', scriptId: `rate-${Date.now()}`, limits: { max_api_calls_per_minute: 4 }, fetchImpl: () => ({ status: 200 }) };
    const first = await pool.execute(request);
    const second = await pool.execute(request);
    expect(first.output).toEqual([200, 200, 200]);
    expect(second.output).toEqual([200, expect.stringMatching(/max_api_calls_per_minute \(4\)/), expect.stringMatching(/max_api_calls_per_minute/)]);
    const otherScript = await pool.execute({ ...request, scriptId: `${request.scriptId}-other` });
    expect(otherScript.output).toEqual([200, 200, 200]);
  });

  it('limits concurrent runs of one script', async () => {
    let active = 0;
    let peak = 0;
    const fetchImpl = async () => {
      peak = Math.max(peak, ++active);
      await new Promise((r) => setTimeout(r, 30));
      active--;
      return { status: 204 };
    };
    const request = { source: 'export default async () => (await fetch("https://x.example/")).status', tenantId: 't', scriptId: `conc-${Date.now()}`, limits: { max_concurrent_runs: 2, max_api_calls_per_minute: 100 }, fetchImpl };
    const results = await Promise.all(Array.from({ length: 6 }, () => pool.execute(request)));
    expect(results.every((r) => r.output === 204)).toBe(true);
    expect(peak).toBe(2);
  });

  it('cancels a run by execution id: queued it never starts, running it is stopped, and the pool goes on', async () => {
    const own = new SandboxPool({ size: 1, maxQueuedPerWorker: 1 });
    try {
      await own.ready();
      const spin = 'export default async () => { for (;;) {} }';
      const running = own.execute({ source: spin, tenantId: 't', executionId: 'run-1', limits: { max_execution_time_ms: 20_000 } });
      const queued = own.execute({ source: 'export default async () => "ran"', tenantId: 't', executionId: 'run-2' });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const started = Date.now();
      expect(own.cancel('run-2')).toBe(true);
      expect(own.cancel('run-1')).toBe(true);
      expect(await queued).toMatchObject({ status: 'cancelled', output: null });
      expect(await running).toMatchObject({ status: 'cancelled', error: expect.stringMatching(/cancelled while it ran/) });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(own.cancel('run-1')).toBe(false);
      expect(own.cancel('never-seen')).toBe(false);
      expect(await own.execute({ source: 'export default async () => 42', tenantId: 't' })).toMatchObject({ status: 'completed', output: 42 });
    } finally {
      await own.close();
    }
  });

  it('reaches a host the tenant allows, and refuses loopback otherwise before connecting', async () => {
    const before = connections;
    const refused = await pool.execute({ source: `export default async () => fetch("http://127.0.0.1:${port}/x").then(r => r.status, e => e.message)`, tenantId: 't' });
    expect(refused.output).toMatch(/fetch refused: 127\.0\.0\.1 is a loopback address/);
    expect(connections).toBe(before);

    const allowed = await pool.execute({
      source: `export default async () => { const r = await fetch("http://127.0.0.1:${port}/hello", { method: "POST", body: "b" }); return { status: r.status, seen: r.headers["x-seen"], body: await r.json() } }`,
      tenantId: 't',
      allowedHosts: ['127.0.0.1'],
      allowedPorts: [port],
    });
    expect(allowed.output).toEqual({ status: 200, seen: 'POST', body: { path: '/hello' } });
  });

  it('re-checks every redirect hop and caps response size', async () => {
    const redirect = await pool.execute({
      source: `export default async () => fetch("http://127.0.0.1:${port}/redirect").then(r => r.status, e => e.message)`,
      tenantId: 't',
      allowedHosts: ['127.0.0.1'],
      allowedPorts: [port],
    });
    expect(redirect.output).toMatch(/fetch refused: 127\.0\.0\.2 is a loopback address/);
    const big = await pool.execute({
      source: `export default async () => fetch("http://127.0.0.1:${port}/big").then(r => r.status, e => e.message)`,
      tenantId: 't',
      allowedHosts: ['127.0.0.1'],
      allowedPorts: [port],
    });
    expect(big.output).toMatch(/response body is over 1048576 bytes/);
  });

  it('refuses requests it cannot run', async () => {
    await expect(pool.execute({ source: 1 as unknown as string, tenantId: 't' })).rejects.toThrow(/source/);
    await expect(pool.execute({ source: 'export default () => 1', tenantId: '' })).rejects.toThrow(/tenantId/);
  });
});

describe('SandboxPool worker lifecycle', () => {
  it('replaces a worker that dies and keeps serving', async () => {
    const pool = new SandboxPool({ size: 2 });
    try {
      await pool.ready();
      const slots = (pool as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }).slots;
      await slots[0].worker.terminate();
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => pool.execute({ source: `export default async () => ${i}`, tenantId: 't' })));
      expect(results.map((r) => r.output)).toEqual(Array.from({ length: 10 }, (_, i) => i));
      expect(pool.stats().replaced).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it('drains and recycles a worker whose WASM memory grew past the threshold', async () => {
    const pool = new SandboxPool({ size: 1, recycleWorkerAfterWasmBytes: 1 });
    try {
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => pool.execute({ source: `export default async () => ${i}`, tenantId: 't' })));
      expect(results.map((r) => [r.status, r.output])).toEqual(Array.from({ length: 6 }, (_, i) => ['completed', i]));
      expect(pool.stats().replaced).toBeGreaterThanOrEqual(1);
    } finally {
      await pool.close();
    }
  });

  it('rejects at once with SandboxBusyError when its queue is full, and takes work again once it drains', async () => {
    const pool = new SandboxPool({ size: 1, maxQueuedRuns: 3 });
    try {
      await pool.ready();
      const spin = { source: 'export default () => { const end = Date.now() + 100; while (Date.now() < end) {} return 1 }', tenantId: 't' };
      // Two runs go to the worker at once, three wait in the queue.
      const accepted = Array.from({ length: 5 }, () => pool.execute(spin));
      const started = Date.now();
      const refused = await pool.execute(spin).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(Date.now() - started).toBeLessThan(50);
      expect(refused).toBeInstanceOf(SandboxBusyError);
      expect(refused).toMatchObject({ code: 'rate_limited', queued: 3, retryAfterSeconds: expect.any(Number) });
      expect((refused as SandboxBusyError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
      await expect(pool.validate('export default () => 1')).rejects.toBeInstanceOf(SandboxBusyError);
      expect((await Promise.all(accepted)).map((r) => r.output)).toEqual([1, 1, 1, 1, 1]);
      await expect(pool.execute(spin)).resolves.toMatchObject({ output: 1 });
    } finally {
      await pool.close();
    }
  });

  it('fails queued work when closed', async () => {
    const pool = new SandboxPool({ size: 1 });
    const pending = pool.execute({ source: 'export default async () => { for (;;) {} }', tenantId: 't', limits: { max_execution_time_ms: 5000 } });
    await pool.close();
    await expect(pending).resolves.toMatchObject({ status: 'failed', error: expect.stringMatching(/closed/) });
    await expect(pool.execute({ source: 'export default () => 1', tenantId: 't' })).rejects.toThrow(/closed/);
  });
});
