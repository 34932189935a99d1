// Memory bombs under the DEFAULT limits (max_memory_bytes 64 MiB): each ends `failed` with out of
// memory before its engine's heap passes the limit plus the documented slack, the process's resident
// memory stays bounded, and the next run on the same workers is served. Before the engine enforced
// the limit itself, the string bomb completed and grew the process to ~2 GB.
import { DEFAULT_RESOURCE_LIMITS } from '../limits';
import { MEMORY_SLACK_BYTES } from '../engine/snapshot-engine';
import { SandboxPool, SANDBOX_POOL_DEFAULTS } from './sandbox-pool';

jest.setTimeout(120_000);

const MiB = 1024 * 1024;
const LIMIT = DEFAULT_RESOURCE_LIMITS.max_memory_bytes;
const OOM = `out of memory: the script exceeded max_memory_bytes (${LIMIT} bytes)`;
const POOL_SIZE = 2;
/**
 * What the bombs may add to the process: the pool's engine budget on every worker thread (the formula
 * of docs/operations.md without the fixed parts, which exist before the bombs).
 */
const RSS_GROWTH_BOUND = POOL_SIZE * SANDBOX_POOL_DEFAULTS.engineMemoryPerWorkerBytes;

const BOMBS: Record<string, string> = {
  'strings (forty 50 MB strings)': 'export default () => { const a = []; for (let i = 0; i < 40; i++) a.push("x".repeat(50e6)); return a.length }',
  'string concatenation': 'export default () => { const a = []; let s = "y".repeat(1e6); for (let i = 0; i < 80; i++) { s = s + s.slice(0, 1e6) + i; a.push(s) } return a.length }',
  'arrays': 'export default () => { const a = []; for (let i = 0; i < 40; i++) a.push(new Array(5e6).fill(i)); return a.length }',
  'objects': 'export default () => { const a = []; for (;;) a.push({ i: a.length, s: "v" + a.length }) }',
  'JSON': 'export default () => { const o = []; for (let i = 0; i < 2e5; i++) o.push({ k: "x".repeat(40) + i }); const a = []; for (let i = 0; i < 40; i++) a.push(JSON.stringify(o)); return a.length }',
  'regular expressions': 'export default () => { const a = []; for (let i = 0; i < 40; i++) a.push("ab".repeat(25e6).replace(/b/g, "cc")); return a.length }',
  'a huge join': 'export default () => new Array(5e7).join("xyz").length',
  'caught and retried': 'export default () => { const a = []; for (let i = 0; i < 200; i++) { try { a.push("z".repeat(20e6)) } catch (e) { a.push(String(e)) } } return a.length }',
  // Host calls: every response body (1 MiB) is kept by the host for text()/json() until the run ends.
  'fetch responses (host calls)': 'export default async () => { const a = []; for (let i = 0; i < 500; i++) a.push(await (await fetch("https://api.example/" + i)).text()); return a.length }',
  'one response read again and again (host calls)': 'export default async () => { const r = await fetch("https://api.example/"); const a = []; for (let i = 0; i < 500; i++) a.push((await r.text()) + i); return a.length }',
};

describe('memory bombs under the default limits', () => {
  let pool: SandboxPool;
  let baseline: number;
  let peak = 0;
  let sampler: NodeJS.Timeout;
  const body = 'b'.repeat(MiB - 16);

  beforeAll(async () => {
    pool = new SandboxPool({ size: POOL_SIZE });
    await pool.ready();
    await pool.execute({ source: 'export default () => 1', tenantId: 'warm' });
    baseline = process.memoryUsage().rss;
    sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2);
  });

  afterAll(async () => {
    clearInterval(sampler);
    await pool.close();
    console.log(`memory bombs: RSS ${Math.round(baseline / MiB)} MiB before, peak ${Math.round(peak / MiB)} MiB (growth ${Math.round((peak - baseline) / MiB)} MiB, bound ${RSS_GROWTH_BOUND / MiB} MiB)`);
  });

  it.each(Object.entries(BOMBS))('%s: fails with out of memory, RSS bounded, next run served', async (_name, source) => {
    const result = await pool.execute({
      source,
      tenantId: 'mallory',
      limits: { max_api_calls_per_minute: 10_000 },
      fetchImpl: () => ({ status: 200, body }),
    });
    expect(result).toMatchObject({ status: 'failed', error: OOM, output: null });
    expect(result.metrics.memory_used_bytes).toBeLessThanOrEqual(LIMIT + MEMORY_SLACK_BYTES);
    expect(peak - baseline).toBeLessThan(RSS_GROWTH_BOUND);
    const next = await Promise.all([1, 2, 3, 4].map((n) => pool.execute({ source: 'export default (ctx) => ctx.input.n * 2', tenantId: 'alice', context: { input: { n } } })));
    expect(next.map((r) => r.output)).toEqual([2, 4, 6, 8]);
  });

  it('many bombs at once, parked on fetch while they hold their memory, stay within the engine budget', async () => {
    const hold = 'export default async () => { const a = []; try { for (let i = 0; i < 40; i++) a.push("x".repeat(6e6) + i) } catch {} await fetch("https://api.example/"); return a.length }';
    const slow = () => new Promise<{ status: number }>((resolve) => setTimeout(() => resolve({ status: 200 }), 200));
    const results = await Promise.all(Array.from({ length: 24 }, () => pool.execute({ source: hold, tenantId: 'mallory', fetchImpl: slow })));
    expect(results.map((r) => r.error)).toEqual(results.map(() => OOM));
    expect(peak - baseline).toBeLessThan(RSS_GROWTH_BOUND);
  });
});
