import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { Permission } from '@provisio/contracts';
import { RegistryTestApp, startRegistry } from '../common/testing/registry-app';

/** The feed of finished executions (keyset cursor) and its Server-Sent Events stream, against the real registry and PostgreSQL. */
describe('script-registry: the execution feed and stream', () => {
  let t: RegistryTestApp;

  beforeAll(async () => {
    t = await startRegistry();
  });
  afterAll(async () => t?.close());

  /** A finished execution recorded `agoMs` ago (the feed shows records once they are FEED_SETTLE_MS old). */
  async function finished(tenantId: string, scriptId: string, agoMs: number, fields: { status?: string; dry_run?: boolean } = {}): Promise<string> {
    const [{ id }] = await t.db.dataSource.query(
      `INSERT INTO script_executions (tenant_id, script_id, status, trigger_type, input, started_at, completed_at, dry_run)
       VALUES ($1, $2, $3, 'api', '{"api_key": {"$sealed": "v1:k:x"}}', now() - make_interval(secs => $4::double precision / 1000), now() - make_interval(secs => $4::double precision / 1000), $5) RETURNING id`,
      [tenantId, scriptId, fields.status ?? 'completed', agoMs, fields.dry_run ?? false],
    );
    return id;
  }

  it('pages in the order recorded after a cursor, each record once, with filters; the newest are held back a moment', async () => {
    const own = t.caller();
    const script = await own.createScript();
    const other = await own.createScript();
    const start = (await own.get('/executions/feed').expect(200)).body.cursor as string;
    // The same instant for two records: the id orders them, and neither is lost or repeated across pages.
    const ids = [await finished(own.tenantId, script.id, -0), await finished(own.tenantId, script.id, -0)];
    await t.db.dataSource.query(`UPDATE script_executions SET completed_at = $2 WHERE id = ANY($1::uuid[])`, [ids, new Date(Date.now() + 1)]);
    ids.push(await finished(own.tenantId, other.id, -5, { status: 'failed' }));
    await finished(own.tenantId, script.id, -5, { dry_run: true });
    const fresh = await own.get('/executions/feed', { after: start }).expect(200);
    expect(fresh.body.items).toEqual([]); // not settled yet
    expect(fresh.body.cursor).toBe(start);
    await new Promise((r) => setTimeout(r, 2_300));
    const seen: string[] = [];
    let cursor = start;
    for (let i = 0; i < 5; i++) {
      const page = await own.get('/executions/feed', { after: cursor, limit: 1 }).expect(200);
      seen.push(...page.body.items.map((e: { id: string }) => e.id));
      cursor = page.body.cursor;
    }
    const expected = await t.db.dataSource.query(`SELECT id FROM script_executions WHERE id = ANY($1::uuid[]) ORDER BY completed_at, id`, [ids]);
    expect(seen).toEqual(expected.map((r: { id: string }) => r.id));
    const failed = await own.get('/executions/feed', { after: start, status: 'failed' }).expect(200);
    expect(failed.body.items.map((e: { id: string; input: unknown }) => [e.id, e.input])).toEqual([[ids[2], { api_key: '********' }]]);
    expect((await own.get('/executions/feed', { after: start, script_id: other.id }).expect(200)).body.items).toHaveLength(1);
  });

  it('refuses a cursor it did not hand out (400 naming it), needs script_execution:read, and shows only the caller\'s tenant', async () => {
    const own = t.caller();
    const script = await own.createScript();
    const start = (await own.get('/executions/feed').expect(200)).body.cursor as string;
    for (const bad of ['nope', Buffer.from(`2020-01-01T00:00:00.000000Z/${'x'.repeat(36)}`).toString('base64url'), 'a\u0000b', 'z'.repeat(300)]) {
      const refused = await own.get('/executions/feed', { after: bad }).expect(400);
      expect(refused.body.field).toBe('after');
    }
    expect((await request(t.app.getHttpServer()).get('/executions/stream').set('Last-Event-ID', 'nope').set('Authorization', `Bearer ${own.token}`).expect(400)).body.field).toBe('Last-Event-ID');
    await own.with([Permission.ScriptRead]).get('/executions/feed').expect(403);
    await own.with([Permission.ScriptRead]).get('/executions/stream').expect(403);
    await request(t.app.getHttpServer()).get('/executions/stream').expect(401);
    await finished(own.tenantId, script.id, 5_000);
    const stranger = t.caller({ tenantId: randomUUID() });
    await stranger.createScript();
    expect((await stranger.get('/executions/feed', { after: start }).expect(200)).body.items).toEqual([]);
  });

  it('streams each record once as an SSE event whose id resumes the stream (Last-Event-ID)', async () => {
    const own = t.caller();
    const script = await own.createScript();
    const address = t.app.getHttpServer().listening ? t.app.getHttpServer().address() : (await t.app.listen(0, '127.0.0.1'), t.app.getHttpServer().address());
    const base = `http://127.0.0.1:${(address as { port: number }).port}`;
    const read = async (headers: Record<string, string>, wantEvents: number): Promise<{ type: string; id?: string; data: string }[]> => {
      const controller = new AbortController();
      const response = await fetch(`${base}/executions/stream?script_id=${script.id}`, { headers: { authorization: `Bearer ${own.token}`, ...headers }, signal: controller.signal });
      expect(response.headers.get('content-type')).toContain('text/event-stream');
      const events: { type: string; id?: string; data: string }[] = [];
      let buffer = '';
      const timeout = setTimeout(() => controller.abort(), 10_000);
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += Buffer.from(chunk).toString('utf8');
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const field = (name: string) => block.split('\n').find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
            if (field('event')) events.push({ type: field('event')!, id: field('id'), data: field('data') ?? '' });
          }
          if (events.filter((e) => e.type === 'execution').length >= wantEvents) break;
        }
      } catch {
        // aborted after the timeout: answer what arrived
      } finally {
        clearTimeout(timeout);
        controller.abort();
      }
      return events;
    };
    const stream = read({}, 2);
    await new Promise((r) => setTimeout(r, 300));
    const first = await finished(own.tenantId, script.id, 0);
    const second = await finished(own.tenantId, script.id, 0);
    const events = await stream;
    expect(events[0].type).toBe('ready');
    const executions = events.filter((e) => e.type === 'execution');
    expect(executions.map((e) => JSON.parse(e.data).id).sort()).toEqual([first, second].sort());
    expect(executions.map((e) => e.id)).toEqual(executions.map((e) => JSON.parse(e.data).cursor));
    // Resuming after the first event answers the second only.
    const third = await finished(own.tenantId, script.id, 0);
    const resumed = await read({ 'last-event-id': executions[0].id! }, 2);
    expect(resumed.filter((e) => e.type === 'execution').map((e) => JSON.parse(e.data).id)).toEqual([JSON.parse(executions[1].data).id, third]);
  });
});
