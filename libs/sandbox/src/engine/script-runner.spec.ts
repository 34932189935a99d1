// The run itself, in the test's own thread (the pool adds only transport around it).
import { resolveLimits, type ResourceLimits } from '../limits';
import type { SandboxFetchRequest } from '../types';
import { MAX_LOG_LINES, TRUNCATED_MARKER, runScript, type RunHost } from './script-runner';
import { EngineShelf } from './snapshot-engine';

const noFetch: RunHost = { fetch: async () => Promise.reject(new Error('no network in this test')) };

const engines = new EngineShelf();

async function run(source: string, context: unknown = {}, limits: Partial<ResourceLimits> = {}, host: RunHost = noFetch) {
  const raw = await runScript(engines, { source, contextJson: JSON.stringify(context), limits: resolveLimits(limits) }, host);
  return { ...raw, output: raw.outputJson === null ? null : JSON.parse(raw.outputJson) };
}

describe('runScript', () => {
  it('passes ctx in and JSON out', async () => {
    const result = await run('export default async (ctx) => ({ hello: ctx.input.name, n: ctx.event.n + 1, when: new Date(0) })', {
      input: { name: 'Ada' },
      event: { n: 41 },
    });
    expect(result).toMatchObject({ status: 'completed', error: null, output: { hello: 'Ada', n: 42, when: '1970-01-01T00:00:00.000Z' } });
    expect(result.metrics.duration_ms).toBeGreaterThan(0);
    expect(result.metrics.memory_used_bytes).toBeGreaterThan(1000);
    expect(result.metrics.api_call_count).toBe(0);
  });

  it('accepts sync handlers, function declarations and top-level await', async () => {
    await expect(run('export default (ctx) => 7')).resolves.toMatchObject({ status: 'completed', output: 7 });
    await expect(run('export default async function main(ctx) { return helper() }\nfunction helper() { return "h" }')).resolves.toMatchObject({ output: 'h' });
    await expect(run('const base = await Promise.resolve(40);\nexport default async () => base + 2')).resolves.toMatchObject({ output: 42 });
    await expect(run('export default async () => undefined')).resolves.toMatchObject({ status: 'completed', output: null });
  });

  it('captures console output with levels', async () => {
    const result = await run('export default async () => { console.log("a", 1, { b: [2] }); console.warn(new Error("careful")); console.error(null, undefined); console.debug("d"); console.info("i"); }');
    expect(result.logs.map((l) => [l.level, l.message])).toEqual([
      ['log', 'a 1 {"b":[2]}'],
      ['warn', 'Error: careful'],
      ['error', 'null undefined'],
      ['debug', 'd'],
      ['info', 'i'],
    ]);
    expect(Date.parse(result.logs[0].at)).not.toBeNaN();
  });

  it('logs a string holding NUL whole, each NUL as U+FFFD (what storing it would make of it)', async () => {
    const result = await run('export default async () => { console.log("a\\u0000b\\u0000", "after", { k: "c\\u0000d" }); console.info("\\u0000"); console.warn("lone \\ud800 kept"); }');
    expect(result.logs.map((l) => l.message)).toEqual(['a\uFFFDb\uFFFD after {"k":"c\\u0000d"}', '\uFFFD', 'lone \ud800 kept']);
  });

  it('bounds console output with one truncation marker', async () => {
    const result = await run('export default async () => { for (let i = 0; i < 5000; i++) console.log("line", i); return "done" }');
    expect(result.status).toBe('completed');
    expect(result.logs).toHaveLength(MAX_LOG_LINES + 1);
    expect(result.logs.at(-1)).toMatchObject({ level: 'warn', message: TRUNCATED_MARKER });
    const bytes = await run('export default async () => { for (let i = 0; i < 100; i++) console.log("x".repeat(10000)); }');
    expect(bytes.logs.filter((l) => l.message === TRUNCATED_MARKER)).toHaveLength(1);
    expect(bytes.logs.reduce((n, l) => n + l.message.length, 0)).toBeLessThanOrEqual(64 * 1024 + TRUNCATED_MARKER.length);
  });

  it('gives scripts the helpers, crypto.randomUUID and the API version', async () => {
    const result = await run(
      `export default async ({ identity }) => {
        const username = helpers.username({ first: identity.first, last: identity.last, format: 'f.last' });
        return {
          username,
          email: helpers.email(username, 'corp.example'),
          display: helpers.normalize(identity.first + '   ' + identity.last),
          slug: helpers.slugify('Ærø Straße'),
          ascii: helpers.transliterate('Łódź'),
          day: helpers.formatDate('2024-03-05T10:00:00Z', 'YYYYMMDD'),
          uuid: /^[0-9a-f-]{36}$/.test(crypto.randomUUID()),
          version: HOST_API_VERSION,
        };
      }`,
      { identity: { first: ' Zoë ', last: 'Ørsted-Müller' } },
    );
    expect(result.output).toEqual({
      username: 'z.orstedmuller',
      email: 'z.orstedmuller@corp.example',
      display: 'Zoë Ørsted-Müller',
      slug: 'aero-strasse',
      ascii: 'Lodz',
      day: '20240305',
      uuid: true,
      version: 1,
    });
  });

  it('turns helper misuse into a catchable script error', async () => {
    const result = await run('export default async () => { try { helpers.formatDate("nope") } catch (e) { return e.name + ": " + e.message } }');
    expect(result.output).toMatch(/RangeError: formatDate: "nope" is not a valid date/);
  });

  it('reports thrown errors with their line', async () => {
    const result = await run('export default async (ctx) => {\n  const x = 1;\n  return ctx.missing.field;\n}');
    expect(result.status).toBe('failed');
    expect(result.error).toBe("TypeError: cannot read property 'field' of undefined (line 3)");
    await expect(run('export default async () => { throw "plain" }')).resolves.toMatchObject({ status: 'failed', error: 'Uncaught plain' });
    await expect(run('export default async () => { throw { code: 42 } }')).resolves.toMatchObject({ error: 'Uncaught {"code":42}' });
    await expect(run('throw new Error("at load")\nexport default async () => 1')).resolves.toMatchObject({ status: 'failed', error: 'Error: at load (line 1)' });
    await expect(run('export default async () => {\n  syntax error here(\n}')).resolves.toMatchObject({ status: 'failed', error: expect.stringMatching(/^SyntaxError: .*\(line 2\)$/) });
  });

  it('refuses a module without a default export function', async () => {
    await expect(run('export const x = 1')).resolves.toMatchObject({ status: 'failed', error: expect.stringMatching(/no default export function/) });
  });

  it('fails a return value that is not JSON or too large', async () => {
    await expect(run('export default async () => { const a = {}; a.self = a; return a }')).resolves.toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/not JSON-serialisable/),
    });
    await expect(run('export default async () => "x".repeat(2000)', {}, { max_output_size_bytes: 1000 })).resolves.toMatchObject({
      status: 'failed',
      error: 'output too large: the serialised return value exceeds max_output_size_bytes (1000 bytes)',
    });
    // multi-byte characters count as UTF-8 bytes
    await expect(run('export default async () => "é".repeat(600)', {}, { max_output_size_bytes: 1000 })).resolves.toMatchObject({ status: 'failed' });
    await expect(run('export default async () => "é".repeat(400)', {}, { max_output_size_bytes: 1000 })).resolves.toMatchObject({ status: 'completed' });
  });

  it('answers fetch through the host, counting calls', async () => {
    const seen: SandboxFetchRequest[] = [];
    const host: RunHost = {
      fetch: async (request) => {
        seen.push(request);
        return { status: 201, headers: { 'content-type': 'application/json' }, body: '{"id":7}', url: request.url };
      },
    };
    const result = await run(
      `export default async () => {
        const r = await fetch('https://api.example.com/users', { method: 'post', headers: { 'x-a': 1 }, body: { name: 'n' } });
        const again = await fetch('https://api.example.com/users/7');
        return { status: r.status, ok: r.ok, type: r.headers['content-type'], body: await r.json(), text: await again.text() };
      }`,
      {},
      {},
      host,
    );
    expect(result.output).toEqual({ status: 201, ok: true, type: 'application/json', body: { id: 7 }, text: '{"id":7}' });
    expect(result.metrics.api_call_count).toBe(2);
    expect(seen[0]).toEqual({ url: 'https://api.example.com/users', method: 'POST', headers: { 'x-a': '1' }, body: '{"name":"n"}' });
  });

  it('rejects inside the script when the host refuses a fetch', async () => {
    const result = await run(
      'export default async () => { try { await fetch("http://10.0.0.1/") } catch (e) { return e.name + ": " + e.message } }',
      {},
      {},
      { fetch: async () => Promise.reject(new Error('fetch refused: nope')) },
    );
    expect(result.output).toBe('FetchError: fetch refused: nope');
  });

  it('times out a run whose host call outlives max_execution_time_ms', async () => {
    const started = Date.now();
    const result = await run('export default async () => (await fetch("https://slow.example/")).status', {}, { max_execution_time_ms: 150 }, {
      fetch: () => new Promise(() => undefined),
    });
    expect(result.status).toBe('timeout');
    expect(result.error).toBe('timeout: the run exceeded max_execution_time_ms (150 ms)');
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
