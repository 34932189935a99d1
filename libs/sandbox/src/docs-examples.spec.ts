// The examples in docs/script-api.md run as documented (the page cannot drift from the code).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runScript } from './engine/script-runner';
import { EngineShelf } from './engine/snapshot-engine';
import { resolveLimits } from './limits';
import type { SandboxFetchRequest } from './types';
import { validate } from './validate';

const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'script-api.md'), 'utf8');

function example(heading: string): string {
  const section = doc.slice(doc.indexOf(`### ${heading}`));
  const match = /```js\n([\s\S]*?)```/.exec(section);
  if (!match) throw new Error(`no example under ${heading}`);
  return match[1];
}

const engines = new EngineShelf();

async function run(source: string, context: unknown, fetched: SandboxFetchRequest[] = []) {
  const raw = await runScript(engines, { source, contextJson: JSON.stringify(context), limits: resolveLimits() }, {
    fetch: async (request) => {
      fetched.push(request);
      return { status: 200, body: '{}' };
    },
  });
  return { ...raw, output: raw.outputJson === null ? null : JSON.parse(raw.outputJson) };
}

describe('docs/script-api.md examples', () => {
  it('the attribute-mapping hook', async () => {
    const source = example('An attribute-mapping hook');
    await expect(validate(source)).resolves.toMatchObject({ valid: true, warnings: [] });
    const result = await run(source, { identity: { first_name: 'José', last_name: 'Müller-Łukasz', employee_id: 7 }, connector: { settings: {} } });
    expect(result.status).toBe('completed');
    expect(result.output.attributes).toMatchObject({
      uid: 'j.mullerlukasz',
      mail: 'j.mullerlukasz@corp.example',
      displayName: 'José Müller-Łukasz',
      cn: 'Jose Muller-Lukasz',
      employeeNumber: '7',
      accountExpires: null,
    });
    expect(result.logs[0]).toMatchObject({ level: 'info', message: 'mapping 7 -> j.mullerlukasz' });
  });

  it('the event script', async () => {
    const source = example('An event script');
    const fetched: SandboxFetchRequest[] = [];
    const result = await run(source, { event: { data: { before: { id: 'u1', department: 'Sales' }, after: { id: 'u1', department: 'Recherche & Dév' } } } }, fetched);
    expect(result.output).toMatchObject({ updated: 'u1' });
    expect(fetched[0]).toMatchObject({ url: 'https://hr.example.com/api/employees/u1', method: 'PATCH', body: '{"department":"recherche-dev"}' });
  });

  it('the HTTP-triggered script', async () => {
    const source = example('An HTTP-triggered script');
    const ok = await run(source, { input: { method: 'POST', query: {}, body: { first: 'Zoë', last: 'Ørsted' } } });
    expect(ok.output).toMatchObject({ status: 200, body: { username: 'zoe.orsted', email: 'zoe.orsted@corp.example' } });
    const wrong = await run(source, { input: { method: 'GET', query: {}, body: null } });
    expect(wrong.output).toEqual({ status: 405, headers: { allow: 'POST' }, body: { error: 'use POST' } });
  });
});
