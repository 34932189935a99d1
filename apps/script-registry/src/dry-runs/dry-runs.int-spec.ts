import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { Permission } from '@provisio/contracts';
import { Caller, RegistryTestApp, startRegistry } from '../common/testing/registry-app';
import { DRY_RUN_FETCH_STATUS } from './dry-run-fetch';

describe('script-registry: dry runs', () => {
  let t: RegistryTestApp;
  let alice: Caller;
  const q = (sql: string, params: unknown[] = []) => t.db.dataSource.query(sql, params);

  beforeAll(async () => {
    t = await startRegistry();
    alice = t.caller({ subject: 'alice' });
  });
  afterAll(async () => t?.close());

  describe('dry run', () => {
    let server: Server;
    let hits = 0;
    let url: string;

    beforeAll(async () => {
      server = createServer((_req, res) => {
        hits += 1;
        res.end('{"sent": true}');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/users`;
    });
    afterAll(async () => new Promise<void>((resolve) => server.close(() => resolve())));

    it('runs a stored script with the context, records it as a dry run, and publishes nothing', async () => {
      const script = await alice.createScript({
        type: 'embedded',
        source: `export default async (ctx) => {
          console.info('mapping', ctx.identity.first_name);
          return { uid: helpers.username({ first: ctx.identity.first_name, last: ctx.identity.last_name }) };
        };`,
      });
      const outboxBefore = await q('SELECT count(*)::int AS n FROM outbox');
      const response = await alice.post(`/scripts/${script.id}/dry-run`, { context: { identity: { first_name: 'José', last_name: 'Müller' } } }).expect(200);
      expect(response.body).toEqual({
        success: true,
        status: 'completed',
        output: JSON.stringify({ uid: 'jose.muller' }),
        error: null,
        duration_ms: expect.any(Number),
        logs: [{ level: 'info', message: 'mapping José', timestamp: expect.any(String) }],
        fetch_requests: [],
        execution_id: expect.any(String),
        script_id: script.id,
        script_version: 1,
      });
      const [row] = await q('SELECT * FROM script_executions WHERE id = $1', [response.body.execution_id]);
      expect(row).toMatchObject({
        tenant_id: alice.tenantId,
        script_id: script.id,
        status: 'completed',
        trigger_type: 'manual',
        dry_run: true,
        executed_by: 'alice',
        script_version: 1,
        input: { identity: { first_name: 'José', last_name: 'Müller' } },
        output: { uid: 'jose.muller' },
        logs: [{ level: 'info', message: 'mapping José', timestamp: expect.any(String) }],
        trigger_data: expect.objectContaining({ dry_run: true, source: 'stored' }),
      });
      expect(row.metrics.duration_ms).toBe(response.body.duration_ms);
      expect(row.completed_at).not.toBeNull();
      // No execution event, no script event: a dry run changes nothing anyone listens to.
      expect(await q('SELECT count(*)::int AS n FROM outbox')).toEqual(outboxBefore);
    });

    it('never lets fetch reach the network: the request is recorded and answered 599', async () => {
      // The tenant allows 127.0.0.1, so the sandbox's URL rules let the request through to the dry run's fetch.
      const caller = t.caller({ subject: 'fetcher' });
      const script = await caller.createScript({
        source: `export default async (ctx) => {
          const res = await fetch(ctx.input.url, { method: 'PUT', headers: { authorization: 'Bearer secret' }, body: { title: 'Engineer' } });
          return { status: res.status, body: await res.json() };
        };`,
      });
      await q(`UPDATE tenants SET settings = jsonb_build_object('allowed_fetch_hosts', jsonb_build_array('127.0.0.1')) WHERE id = $1`, [caller.tenantId]);
      const response = await caller.post(`/scripts/${script.id}/dry-run`, { context: { input: { url } } }).expect(200);
      expect(response.body.success).toBe(true);
      const output = JSON.parse(response.body.output);
      expect(output).toEqual({ status: DRY_RUN_FETCH_STATUS, body: { error: 'dry_run', message: `dry run: PUT ${url} was recorded, not sent` } });
      expect(response.body.fetch_requests).toEqual([{ method: 'PUT', url, header_names: expect.arrayContaining(['authorization']), body_bytes: expect.any(Number) }]);
      expect(JSON.stringify(response.body)).not.toContain('Bearer secret');
      expect(hits).toBe(0);

      // Unsaved source too, and a refused destination is refused as in a live run.
      const unsaved = await caller.post('/scripts/dry-run', { source: `export default async () => (await fetch(${JSON.stringify(url)})).status;` }).expect(200);
      expect(unsaved.body).toMatchObject({ success: true, output: String(DRY_RUN_FETCH_STATUS), execution_id: null });
      const refused = await caller.post('/scripts/dry-run', { source: `export default async () => { try { await fetch('http://169.254.169.254/'); } catch (e) { return e.message; } };` }).expect(200);
      expect(JSON.parse(refused.body.output)).toMatch(/^fetch refused:/);
      expect(hits).toBe(0);
    });

    it('reports a failing script as success false, and records the failure', async () => {
      const script = await alice.createScript({ source: `export default async (ctx) => { console.error('about to fail'); return ctx.identity.mail.toLowerCase(); };` });
      const response = await alice.post(`/scripts/${script.id}/dry-run`, { context: { identity: {} } }).expect(200);
      expect(response.body).toMatchObject({ success: false, status: 'failed', output: null, error: expect.stringMatching(/TypeError/), logs: [{ level: 'error', message: 'about to fail' }] });
      const [row] = await q('SELECT status, error, dry_run FROM script_executions WHERE id = $1', [response.body.execution_id]);
      expect(row).toEqual({ status: 'failed', error: response.body.error, dry_run: true });
    });

    it("stops at the script's time limit (status timeout)", async () => {
      const script = await alice.createScript({ source: 'export default async () => { for (;;) {} };', resource_limits: { max_execution_time_ms: 300 } });
      const response = await alice.post(`/scripts/${script.id}/dry-run`, {}).expect(200);
      expect(response.body).toMatchObject({ success: false, status: 'timeout', error: expect.stringMatching(/^timeout/) });
    });

    it('runs an older version on request', async () => {
      const script = await alice.createScript({ source: 'export default async () => "v1";' });
      await alice.patch(`/scripts/${script.id}`, { source: 'export default async () => "v2";' }).expect(200);
      expect((await alice.post(`/scripts/${script.id}/dry-run`, {}).expect(200)).body).toMatchObject({ output: '"v2"', script_version: 2 });
      expect((await alice.post(`/scripts/${script.id}/dry-run`, { version: 1 }).expect(200)).body).toMatchObject({ output: '"v1"', script_version: 1 });
      await alice.post(`/scripts/${script.id}/dry-run`, { version: 3 }).expect(404);
    });

    it('does not record an unsaved source, unless it names the script it edits', async () => {
      const script = await alice.createScript();
      const count = async () => (await q('SELECT count(*)::int AS n FROM script_executions WHERE script_id = $1', [script.id]))[0].n;
      const plain = await alice.post('/scripts/dry-run', { source: 'export default async (ctx) => ctx.input.n * 2;', context: { input: { n: 21 } } }).expect(200);
      expect(plain.body).toMatchObject({ success: true, output: '42', execution_id: null, script_id: null, script_version: null });
      expect(await count()).toBe(0);

      const edit = await alice.post('/scripts/dry-run', { source: 'export default async () => "edited";', script_id: script.id }).expect(200);
      expect(edit.body).toMatchObject({ success: true, output: '"edited"', execution_id: expect.any(String), script_id: script.id, script_version: null });
      const [row] = await q('SELECT dry_run, script_version, trigger_data FROM script_executions WHERE id = $1', [edit.body.execution_id]);
      expect(row).toMatchObject({ dry_run: true, script_version: null, trigger_data: expect.objectContaining({ source: 'unsaved' }) });

      const foreign = await t.caller().createScript();
      const refused = await alice.post('/scripts/dry-run', { source: 'export default 1', script_id: foreign.id }).expect(404);
      expect(refused.body).toMatchObject({ code: 'not_found', field: 'script_id' });
      const unknown = await alice.post('/scripts/dry-run', { source: 'export default 1', script_id: randomUUID() }).expect(404);
      expect(unknown.body.field).toBe('script_id');
    });

    it.each([
      ['/scripts/dry-run', { source: 'export default 1', context: [1, 2] }, 'context'],
      ['/scripts/dry-run', { source: 'export default 1', context: 'x' }, 'context'],
      ['/scripts/dry-run', { source: 'export default 1', script_id: 'nope' }, 'script_id'],
      ['/scripts/dry-run', { context: {} }, 'source'],
    ])('answers 400 naming the field: POST %s %j', async (path, body, field) => {
      expect((await alice.post(path, body).expect(400)).body).toMatchObject({ code: 'validation_failed', field });
    });

    it('answers 400 naming the field for a stored dry run', async () => {
      const script = await alice.createScript();
      expect((await alice.post(`/scripts/${script.id}/dry-run`, { version: 0 }).expect(400)).body.field).toBe('version');
      expect((await alice.post(`/scripts/${script.id}/dry-run`, { context: null }).expect(400)).body.field).toBe('context');
    });
  });

  it('needs a token, and script:read to validate, script:execute to dry-run', async () => {
    const script = await alice.createScript();
    const reader = alice.with([Permission.ScriptRead]);
    const executor = alice.with([Permission.ScriptExecute]);
    const anonymous = await t.caller().with([]).post('/scripts/validate', { source: 'x' });
    expect(anonymous.status).toBe(403);
    expect((await request(t.app.getHttpServer()).post('/scripts/validate').send({ source: 'x' })).status).toBe(401);
    expect((await request(t.app.getHttpServer()).post(`/scripts/${script.id}/dry-run`).send({})).status).toBe(401);

    await reader.post('/scripts/validate', { source: 'export default 1' }).expect(200);
    await reader.post(`/scripts/${script.id}/validate`).expect(200);
    expect((await reader.post('/scripts/dry-run', { source: 'export default 1' })).body).toMatchObject({ status: 403, code: 'forbidden' });
    await reader.post(`/scripts/${script.id}/dry-run`, {}).expect(403);

    await executor.post('/scripts/dry-run', { source: 'export default () => 1' }).expect(200);
    await executor.post(`/scripts/${script.id}/dry-run`, {}).expect(200);
    await executor.post('/scripts/validate', { source: 'x' }).expect(403);
    await executor.post(`/scripts/${script.id}/validate`).expect(403);
  });
});
