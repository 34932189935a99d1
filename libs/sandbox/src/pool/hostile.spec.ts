// Hostile scripts: each must end in a clear `timeout` or `failed`, leave the pool healthy, and the
// NEXT run must be served correctly. No test sends traffic anywhere: refused destinations are
// refused before any connection is attempted.
import type { ExecuteRequest, ExecutionResult } from '../types';
import { SandboxPool } from './sandbox-pool';

jest.setTimeout(60_000);

const LIMITS = { max_execution_time_ms: 500, max_memory_bytes: 16 * 1024 * 1024 };
const NEXT = 'export default async (ctx) => ({ next: ctx.input.n, polluted: ({}).polluted ?? null, leak: globalThis.secret ?? null })';

describe('hostile scripts', () => {
  let pool: SandboxPool;

  beforeAll(async () => {
    pool = new SandboxPool({ size: 2, graceMs: 300 });
    await pool.ready();
  });

  afterAll(() => pool.close());

  async function hostile(source: string, extra: Partial<ExecuteRequest> = {}): Promise<ExecutionResult> {
    const result = await pool.execute({ source, tenantId: 'mallory', limits: LIMITS, ...extra });
    // The pool is healthy and serves the next run correctly, on every worker.
    const next = await Promise.all([1, 2, 3, 4].map((n) => pool.execute({ source: NEXT, tenantId: 'alice', context: { input: { n } } })));
    expect(next.map((r) => [r.status, r.output])).toEqual([1, 2, 3, 4].map((n) => ['completed', { next: n, polluted: null, leak: null }]));
    expect(pool.stats().size).toBe(2);
    return result;
  }

  it('an infinite loop times out', async () => {
    const result = await hostile('export default async () => { for (;;) {} }');
    expect(result).toMatchObject({ status: 'timeout', error: 'timeout: the run exceeded max_execution_time_ms (500 ms)', output: null });
    expect(result.metrics.duration_ms).toBeGreaterThanOrEqual(490);
    expect(result.metrics.duration_ms).toBeLessThan(1500);
  });

  it('a loop inside a promise times out', async () => {
    const result = await hostile('export default async () => { await null; return new Promise(() => { while (true) {} }) }');
    expect(result.status).toBe('timeout');
  });

  it('a flood of microtasks ends in a timeout or out of memory', async () => {
    const result = await hostile('export default async () => { const f = () => Promise.resolve().then(f); f(); await new Promise(() => {}) }');
    expect(result.status === 'timeout' || result.error?.startsWith('out of memory')).toBe(true);
  });

  it('catching the interrupt does not help', async () => {
    const result = await hostile('export default async () => { for (;;) { try { for (;;) {} } catch (e) { console.log("caught", e) } } }');
    expect(result.status).toBe('timeout');
    expect(result.logs).toEqual([]);
  });

  it('hostile toJSON and error getters end in a timeout, not a stuck worker', async () => {
    const output = await hostile('export default async () => ({ toJSON() { for (;;) {} } })');
    expect(output.status).toBe('timeout');
    const thrown = await hostile('export default async () => { throw { get message() { for (;;) {} } } }');
    expect(['timeout', 'failed']).toContain(thrown.status);
  });

  it('a promise that never settles fails at once; one waiting on a slow host call times out', async () => {
    const never = await hostile('export default async () => new Promise(() => {})');
    expect(never).toMatchObject({ status: 'failed', error: expect.stringMatching(/can never settle/) });
    const slow = await hostile('export default async () => (await fetch("https://slow.example/")).status', { fetchImpl: () => new Promise(() => undefined) });
    expect(slow.status).toBe('timeout');
  });

  it('memory exhaustion fails with out of memory (objects and strings)', async () => {
    const objects = await hostile('export default async () => { const a = []; for (;;) a.push({ i: a.length, s: "v" + a.length }) }');
    expect(objects).toMatchObject({ status: 'failed', error: 'out of memory: the script exceeded max_memory_bytes (16777216 bytes)' });
    // Large strings escape QuickJS's own accounting; the sandbox measures them itself.
    const strings = await hostile('export default async () => { const a = []; for (;;) a.push("x".repeat(100000) + a.length) }', {
      limits: { ...LIMITS, max_execution_time_ms: 5000 },
    });
    expect(strings).toMatchObject({ status: 'failed', error: expect.stringMatching(/^out of memory/) });
    expect(strings.metrics.memory_used_bytes).toBeGreaterThan(16 * 1024 * 1024);
  });

  it('deep recursion fails with a stack overflow', async () => {
    const result = await hostile('export default async () => { const f = (n) => f(n + 1) + 1; return f(0) }');
    expect(result).toMatchObject({ status: 'failed', error: expect.stringMatching(/^stack overflow/) });
  });

  it('nesting too deep for the host stack ends the run and replaces nothing but its worker', async () => {
    const result = await hostile('export default async () => { const a = []; let x = a; for (let i = 0; i < 200000; i++) { x[0] = []; x = x[0] } return a }', {
      limits: { ...LIMITS, max_execution_time_ms: 2000, max_memory_bytes: 64 * 1024 * 1024 },
    });
    expect(['failed', 'timeout']).toContain(result.status);
    expect(result.error).toMatch(/stack overflow|timeout/);
  });

  it('catastrophic regex backtracking (not interruptible) gets its worker terminated and replaced', async () => {
    const replacedBefore = pool.stats().replaced;
    const started = Date.now();
    const result = await hostile('export default async () => /(a+)+$/.test("a".repeat(40) + "b")');
    expect(result.status).toBe('timeout');
    expect(result.error).toMatch(/cannot interrupt; its worker was replaced/);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(pool.stats().replaced).toBeGreaterThan(replacedBefore);
  });

  it('a huge console stream is bounded', async () => {
    const result = await hostile('export default async () => { for (let i = 0; ; i++) console.log("line", i, "x".repeat(200)) }');
    expect(result.status).toBe('timeout');
    expect(result.logs.at(-1)?.message).toBe('[truncated]');
    expect(result.logs.reduce((n, l) => n + l.message.length, 0)).toBeLessThanOrEqual(64 * 1024 + 11);
  });

  it('a huge return value fails with output too large', async () => {
    const result = await hostile('export default async () => ({ blob: "x".repeat(3 * 1024 * 1024) })', { limits: { ...LIMITS, max_memory_bytes: 64 * 1024 * 1024 } });
    expect(result).toMatchObject({ status: 'failed', error: 'output too large: the serialised return value exceeds max_output_size_bytes (1048576 bytes)' });
  });

  it.each([
    ['process', 'export default async () => process.env', /'process' is not defined/],
    ['require', 'export default async () => require("fs")', /'require' is not defined/],
    ['dynamic import', 'export default async () => (await import("fs")).readFileSync("/etc/passwd")', /could not load module 'fs'/],
    ['import of another file', 'export default async () => import("./secrets.js")', /could not load module/],
    ['constructor chain', 'export default async () => (() => {}).constructor("return process")().env', /'process' is not defined/],
    ['this.constructor.constructor', 'export default async () => Function("return this.constructor.constructor(\'return process\')()")().env', /'process' is not defined/],
    ['async function constructor', 'export default async () => (async () => {}).constructor("return require")()', /'require' is not defined/],
  ])('%s is unreachable', async (_name, source, error) => {
    const result = await hostile(source);
    expect(result.status).toBe('failed');
    expect(result.error).toMatch(error);
  });

  it('Function("return this")() is the sandbox global, with nothing of Node on it', async () => {
    const result = await hostile(`export default async () => {
      const g = Function("return this")();
      return { same: g === globalThis, names: Object.getOwnPropertyNames(g).filter((n) => /process|require|module|Buffer|global$|setTimeout|WebAssembly|SharedArrayBuffer|Atomics|std|os/.test(n)) };
    }`);
    expect(result.output).toEqual({ same: true, names: [] });
  });

  it('prototype and host-object mutations do not reach the next run or the host', async () => {
    const result = await hostile(`export default async () => {
      Object.prototype.polluted = 'yes';
      Array.prototype.map = () => 'hijacked';
      JSON.stringify = () => '"forged"';
      JSON.parse = () => ({ forged: true });
      console.log = () => { throw new Error('no logs') };
      helpers.username = () => 'root';
      Object.getPrototypeOf(helpers).polluted2 = 1;
      globalThis.secret = 'from mallory';
      return { ok: true };
    }`);
    expect(result).toMatchObject({ status: 'completed', output: { ok: true } });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect([1].map((x) => x + 1)).toEqual([2]);
    const after = await pool.execute({ source: 'export default async () => helpers.username({ first: "A", last: "B" }) + [1].map(String) + JSON.stringify({ a: ({}).polluted2 ?? null })', tenantId: 'alice' });
    expect(after.output).toBe('a.b1{"a":null}');
  });

  it.each([
    ['http://127.0.0.1/', /127\.0\.0\.1 is a loopback address/],
    ['http://10.0.0.1/', /10\.0\.0\.1 is a private address/],
    ['http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is a cloud metadata address/],
    ['http://[::1]/', /\[::1\] is a loopback address/],
    ['http://localhost/', /localhost is a loopback host/],
    ['http://metadata.google.internal/computeMetadata/v1/', /metadata\.google\.internal is a cloud metadata host/],
    ['http://[fd00:ec2::254]/', /cloud metadata address/],
    ['http://[::ffff:127.0.0.1]/', /loopback address/],
    ['http://0.0.0.0/', /unspecified/],
    ['http://100.64.0.1/', /carrier-grade NAT/],
    ['http://192.168.1.1/', /private address/],
    ['http://172.16.0.1/', /private address/],
    ['file:///etc/passwd', /only http and https/],
  ])('fetch(%s) is refused inside the script', async (url, message) => {
    const result = await hostile(`export default async () => { try { await fetch(${JSON.stringify(url)}); return 'sent' } catch (e) { return e.name + ': ' + e.message } }`);
    expect(result.status).toBe('completed');
    expect(result.output).toMatch(/^FetchError: fetch refused: /);
    expect(result.output).toMatch(message);
    expect(result.metrics.api_call_count).toBe(1);
  });

  it("one tenant's run never sees another's globals, even interleaved on the same workers", async () => {
    const writer = (tenant: string) =>
      pool.execute({
        source: 'export default async (ctx) => { const before = globalThis.secret ?? null; globalThis.secret = ctx.input.secret; Object.prototype.owner = ctx.input.secret; return before }',
        tenantId: tenant,
        context: { input: { secret: `secret-of-${tenant}` } },
      });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => writer(`tenant-${i % 5}`)));
    expect(results.every((r) => r.status === 'completed' && r.output === null)).toBe(true);
    const reader = await pool.execute({ source: 'export default async () => [globalThis.secret ?? null, ({}).owner ?? null]', tenantId: 'tenant-x' });
    expect(reader.output).toEqual([null, null]);
  });

  it('calling every reachable built-in does not fault the engine', async () => {
    const result = await hostile(`export default async () => {
      const seen = new Set(); let calls = 0;
      const args = [[], [1], ['a', 2], [{}], [[1, 2]], [() => 1], [null, undefined]];
      const visit = (obj, depth) => {
        if (obj === null || (typeof obj !== 'object' && typeof obj !== 'function') || seen.has(obj) || depth > 3) return;
        seen.add(obj);
        for (const k of Reflect.ownKeys(obj)) {
          let v; try { v = obj[k]; } catch (e) { continue; }
          if (typeof v === 'function' && v !== fetch) {
            for (const a of args) { try { calls++; const r = v.apply(obj, a); if (r && typeof r.then === 'function') r.then(() => {}, () => {}); } catch (e) {} }
            for (const a of args) { try { new v(...a); } catch (e) {} }
          }
          visit(v, depth + 1);
        }
      };
      visit(globalThis, 0);
      return calls > 1000;
    }`, { limits: { ...LIMITS, max_execution_time_ms: 20_000 } });
    expect(result).toMatchObject({ status: 'completed', output: true });
  });
});
