// The stack's SCIM target server (scripts/stack/scim-target.mjs, SCIM_TARGET_* in .stack/stack.env) answers
// the connector with the credentials the stack generated. Only reads and one account of its own: the server
// is shared, so no faults here (scim.int-spec.ts injects them on a private server).
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Connector } from '../connector';
import { createConnector } from '../connector-types';
import './index';

function stackValue(name: string): string | undefined {
  if (process.env[name]) return process.env[name];
  const file = join(__dirname, '..', '..', '..', '..', '.stack', 'stack.env');
  if (!existsSync(file)) return undefined;
  const line = readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}=`));
  return line ? line.slice(name.length + 1) || undefined : undefined;
}

describe('the stack SCIM target server', () => {
  const url = stackValue('SCIM_TARGET_URL');
  const token = stackValue('SCIM_TARGET_TOKEN');
  const username = stackValue('SCIM_TARGET_USERNAME');
  const password = stackValue('SCIM_TARGET_PASSWORD');
  let bearer: Connector;

  beforeAll(() => {
    if (!url || !token) throw new Error('SCIM_TARGET_URL / SCIM_TARGET_TOKEN are not set and not in .stack/stack.env: run `npm run stack:up`');
    bearer = createConnector('scim', { baseUrl: url, auth: 'bearer' }, { token });
  });
  afterAll(() => bearer?.close());

  it('answers the connection test with its features', async () => {
    const result = await bearer.testConnection();
    expect(result).toMatchObject({ ok: true, details: { patch: true, etag: true, bulk: expect.any(Object) } });
  });

  it('creates, reads and deletes an account with the bearer token, and reads it with basic credentials', async () => {
    const userName = `stack-smoke-${randomBytes(6).toString('hex')}`;
    const created = await bearer.create('account', { userName, displayName: 'Stack smoke' });
    const basic = createConnector('scim', { baseUrl: url!, auth: 'basic' }, { username: username!, password: password ?? '' });
    try {
      expect((await basic.get('account', created.uid))?.attributes.userName).toBe(userName);
    } finally {
      await basic.close();
      await bearer.delete('account', created.uid);
    }
    expect(await bearer.get('account', created.uid)).toBeNull();
  });
});
