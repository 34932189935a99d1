// Snapshot engines: every run starts from the pristine context, whatever the runs before it did.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolveLimits, type ResourceLimits } from '../limits';
import { runScript, type RunHost } from './script-runner';
import { EngineShelf, MEMORY_SLACK_BYTES, SnapshotEngine } from './snapshot-engine';
import { readWasmLayout } from './wasm-layout';

const noFetch: RunHost = { fetch: async () => Promise.reject(new Error('no network in this test')) };

async function run(shelf: EngineShelf, source: string, limits: Partial<ResourceLimits> = {}, host: RunHost = noFetch) {
  const raw = await runScript(shelf, { source, contextJson: '{}', limits: resolveLimits(limits) }, host);
  return { ...raw, output: raw.outputJson === null ? null : JSON.parse(raw.outputJson) };
}

describe('SnapshotEngine', () => {
  it('gives the next run on the same engine a pristine context: globals, prototypes, built-ins', async () => {
    const shelf = new EngineShelf();
    const polluter = await run(
      shelf,
      `globalThis.leak = 'secret'; Object.prototype.polluted = 1; Array.prototype.push = () => 0;
       JSON.stringify = () => '"forged"'; helpers.slugify = () => 'x'; console.log = null;
       export default () => 'done'`,
    );
    expect(polluter).toMatchObject({ status: 'completed', output: 'done' });
    const probe = await run(
      shelf,
      `export default () => { const a = []; a.push(1);
         return { leak: typeof leak, polluted: ({}).polluted, pushed: a.length, slug: helpers.slugify('A B'), log: typeof console.log }; }`,
    );
    expect(probe).toMatchObject({ status: 'completed', output: { leak: 'undefined', pushed: 1, slug: 'a-b', log: 'function' } });
    expect(probe.output).not.toHaveProperty('polluted');
    expect(shelf.size).toEqual({ idle: 1, total: 1 });
  });

  it('draws a new Math.random sequence in every run (restored memory would replay one)', async () => {
    const shelf = new EngineShelf();
    const draws = new Set<number>();
    for (let i = 0; i < 5; i++) draws.add((await run(shelf, 'export default () => Math.random()')).output as number);
    expect(draws.size).toBe(5);
    expect(shelf.size.total).toBe(1);
    // QuickJS's own Math.random, reseeded by the engine at every reset (not a slower host call).
    const engine = await shelf.take();
    expect(engine.mathRandom).toBe('reseeded');
    shelf.give(engine, false);
    const sequence = await run(shelf, 'export default () => { const s = new Set(); for (let i = 0; i < 1000; i++) s.add(Math.random()); return [s.size, String(Math.random)]; }');
    expect(sequence.output).toEqual([1000, expect.stringContaining('[native code]')]);
  });

  it('serves the run after an out-of-memory, timed-out or throwing run from a clean heap', async () => {
    const shelf = new EngineShelf();
    const small = await run(shelf, 'export default () => 1');
    const oom = await run(shelf, 'export default () => { const a = []; for (;;) a.push({ n: a.length }); }', { max_memory_bytes: 8 * 1024 * 1024 });
    expect(oom).toMatchObject({ status: 'failed', error: expect.stringMatching(/^out of memory/) });
    const loop = await run(shelf, 'export default () => { for (;;) {} }', { max_execution_time_ms: 50 });
    expect(loop.status).toBe('timeout');
    const thrown = await run(shelf, 'export default () => { throw new TypeError("boom") }');
    expect(thrown).toMatchObject({ status: 'failed', error: expect.stringContaining('TypeError: boom') });
    const after = await run(shelf, 'export default () => 1');
    expect(after).toMatchObject({ status: 'completed', output: 1 });
    expect(after.metrics.memory_used_bytes).toBe(small.metrics.memory_used_bytes);
  });

  it('gives runs that wait on fetch at the same time an engine each, and keeps only so many idle', async () => {
    const shelf = new EngineShelf({ maxIdle: 1 });
    const answers: Array<() => void> = [];
    const host: RunHost = {
      fetch: (request) => new Promise((resolve) => answers.push(() => resolve({ status: 200, body: JSON.stringify({ url: request.url }) }))),
    };
    const source = 'export default async (ctx) => { const r = await fetch("https://example.test/" + Math.random()); globalThis.mine = (await r.json()).url; return mine; }';
    const runs = [run(shelf, source, {}, host), run(shelf, source, {}, host)];
    while (answers.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(shelf.size).toEqual({ idle: 0, total: 2 });
    answers.forEach((answer) => answer());
    const [a, b] = await Promise.all(runs);
    expect(a.status).toBe('completed');
    expect(b.status).toBe('completed');
    expect(a.output).not.toEqual(b.output);
    expect(shelf.size).toEqual({ idle: 1, total: 1 });
  });

  it('takes the host functions a run made (fetch responses) out of the context again', async () => {
    const shelf = new EngineShelf();
    const functionIds = (engine: SnapshotEngine) => (engine.vm as unknown as { fnNextId: number }).fnNextId;
    const engine = await shelf.take();
    const before = functionIds(engine);
    shelf.give(engine, false);
    const host: RunHost = { fetch: async () => ({ status: 200, body: '"ok"' }) };
    const fetched = await run(shelf, 'export default async () => (await fetch("https://example.test/")).json()', {}, host);
    expect(fetched).toMatchObject({ status: 'completed', output: 'ok' });
    const again = await shelf.take();
    expect(again).toBe(engine);
    expect(functionIds(again)).toBe(before);
  });

  it('drops an engine whose memory grew past the keep threshold instead of keeping it', async () => {
    const shelf = new EngineShelf({ keepBytes: 20 * 1024 * 1024 });
    const big = await run(shelf, 'export default () => "x".repeat(24 * 1024 * 1024).length', { max_memory_bytes: 256 * 1024 * 1024 });
    expect(big).toMatchObject({ status: 'completed', output: 24 * 1024 * 1024 });
    expect(shelf.size).toEqual({ idle: 0, total: 0 });
    await expect(run(shelf, 'export default () => 2')).resolves.toMatchObject({ output: 2 });
    expect(shelf.size).toEqual({ idle: 1, total: 1 });
  });
});

describe('SnapshotEngine memory', () => {
  const tenant = { interrupt: () => false, logOpen: () => false, log: () => undefined, fetch: () => { throw new Error('no fetch'); } };

  function occurrences(engine: SnapshotEngine, secret: string): number {
    const bytes = new Uint8Array((engine as unknown as { memory: { buffer: ArrayBuffer } }).memory.buffer);
    const haystack = Buffer.from(bytes.buffer, 0, bytes.length);
    let count = 0;
    for (const needle of [Buffer.from(secret, 'latin1'), Buffer.from(secret, 'utf16le')]) {
      for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + 1)) count++;
    }
    return count;
  }

  it('leaves nothing a run wrote in the engine\'s memory after reset: heap above the snapshot and the C stack are zeroed', async () => {
    const shelf = new EngineShelf();
    const engine = await shelf.take();
    const secret = `S3CR3T-${Math.random().toString(36).slice(2)}`;
    expect(occurrences(engine, secret)).toBe(0);
    engine.lease(tenant, 64 * 1024 * 1024);
    const code = `const s = ${JSON.stringify(secret)}; const big = s.repeat(20000); const o = {}; o[s] = big; o[s + "\u00e9\u4e16"] = 1;
      JSON.stringify(o); try { null[s] } catch (e) { globalThis.m = e.message } const f = (n) => n ? f(n - 1) + s.length : 0; f(500); big.length`;
    const result = engine.vm.evalCode(code);
    expect(result.error).toBeUndefined();
    // The test sees the secret while the run holds the engine (in its heap, strings, atoms)...
    expect(occurrences(engine, secret)).toBeGreaterThan(100);
    shelf.give(engine, false);
    // ...and not one copy of it after the reset.
    expect(occurrences(engine, secret)).toBe(0);
    await expect(run(shelf, 'export default () => Object.keys(globalThis).length > 0')).resolves.toMatchObject({ status: 'completed', output: true });
  });

  it('seeds Math.random from the cryptographic source, not from the host\'s Math.random', async () => {
    const shelf = new EngineShelf();
    const hostRandom = Math.random;
    Math.random = () => 0.5;
    try {
      const draws = new Set<number>();
      for (let i = 0; i < 5; i++) draws.add((await run(shelf, 'export default () => Math.random()')).output as number);
      expect(draws.size).toBe(5);
    } finally {
      Math.random = hostRandom;
    }
  });

  it('refuses to grow an engine past its ceiling: the allocation fails inside QuickJS, and the run fails even if the script catches it', async () => {
    const shelf = new EngineShelf();
    const source = 'export default () => { const a = []; try { for (;;) a.push("x".repeat(1e6) + a.length) } catch (e) { return String(e) } }';
    const oom = await run(shelf, source, { max_memory_bytes: 32 * 1024 * 1024 });
    expect(oom).toMatchObject({ status: 'failed', error: expect.stringMatching(/^out of memory/) });
    expect(oom.metrics.memory_used_bytes).toBeLessThanOrEqual(32 * 1024 * 1024 + MEMORY_SLACK_BYTES);
    await expect(run(shelf, 'export default () => 2')).resolves.toMatchObject({ output: 2 });
  });

  it('holds at most its budget of engine memory: a run that does not fit waits for one to end', async () => {
    const MiB = 1024 * 1024;
    const shelf = new EngineShelf({ memoryBudgetBytes: 160 * MiB, maxEngines: 4 });
    const answers: Array<() => void> = [];
    const host: RunHost = { fetch: () => new Promise((resolve) => answers.push(() => resolve({ status: 200, body: '1' }))) };
    const parked = 'export default async () => (await fetch("https://a.example/")).status';
    // Two runs of 64 MiB (a ceiling of ~70 MiB each) fit in 160 MiB; the third waits.
    const first = run(shelf, parked, {}, host);
    const second = run(shelf, parked, {}, host);
    while (answers.length < 2) await new Promise((r) => setTimeout(r, 5));
    let thirdDone = false;
    const third = run(shelf, 'export default () => 3').then((r) => ((thirdDone = true), r));
    await new Promise((r) => setTimeout(r, 50));
    expect(thirdDone).toBe(false);
    expect(shelf.committedBytes).toBeLessThanOrEqual(160 * MiB);
    answers[0]();
    await expect(third).resolves.toMatchObject({ output: 3 });
    answers[1]();
    await expect(Promise.all([first, second])).resolves.toMatchObject([{ output: 200 }, { output: 200 }]);
    expect(shelf.committedBytes).toBeLessThanOrEqual(160 * MiB);
  });
});

describe('readWasmLayout', () => {
  it('finds the static data below the C stack and the heap above it in the QuickJS build', () => {
    const fromQuickJs = createRequire(require.resolve('quickjs-emscripten'));
    const layout = readWasmLayout(readFileSync(fromQuickJs.resolve('@jitl/quickjs-wasmfile-release-sync/wasm')));
    expect(layout.staticEnd).toBeGreaterThan(1024);
    expect(layout.heapBase - layout.staticEnd).toBe(5 * 1024 * 1024);
  });

  it('refuses a binary without a stack pointer global', () => {
    const empty = Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    expect(() => readWasmLayout(empty)).toThrow(/no stack pointer global/);
  });
});
