// Snapshot engines: every run starts from the pristine context, whatever the runs before it did.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolveLimits, type ResourceLimits } from '../limits';
import { runScript, type RunHost } from './script-runner';
import { EngineShelf, SnapshotEngine } from './snapshot-engine';
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
    const shelf = new EngineShelf(undefined, 1);
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
    const shelf = new EngineShelf(20 * 1024 * 1024);
    const big = await run(shelf, 'export default () => "x".repeat(24 * 1024 * 1024).length', { max_memory_bytes: 256 * 1024 * 1024 });
    expect(big).toMatchObject({ status: 'completed', output: 24 * 1024 * 1024 });
    expect(shelf.size).toEqual({ idle: 0, total: 0 });
    await expect(run(shelf, 'export default () => 2')).resolves.toMatchObject({ output: 2 });
    expect(shelf.size).toEqual({ idle: 1, total: 1 });
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
