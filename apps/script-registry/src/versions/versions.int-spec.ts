import { randomUUID } from 'node:crypto';
import { createHash } from 'node:crypto';
import { Caller, RegistryTestApp, startRegistry } from '../common/testing/registry-app';

describe('script-registry: versions', () => {
  let t: RegistryTestApp;
  let dana: Caller;
  const q = (sql: string, params: unknown[] = []) => t.db.dataSource.query(sql, params);
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');

  beforeAll(async () => {
    t = await startRegistry();
    dana = t.caller({ subject: 'dana' });
  });
  afterAll(async () => t?.close());

  it('numbers every change of source 1, 2, 3 …, immutable, with description and author; current_version is the live one', async () => {
    const script = await dana.createScript({ source: 'line 1\n', change_description: 'first' });
    await dana.patch(`/scripts/${script.id}`, { source: 'line 1\nline 2\n', change_description: 'second', semantic_version: '1.1.0' }).expect(200);
    const third = await dana.post(`/scripts/${script.id}/versions`, { script_body: 'line 1\nline two\n', change_description: 'third' }).expect(201);
    expect(third.body).toMatchObject({ script_id: script.id, version_number: 3, change_description: 'third', created_by: 'dana', source: 'line 1\nline two\n', script_body: 'line 1\nline two\n', source_sha256: sha('line 1\nline two\n') });

    const live = await dana.get(`/scripts/${script.id}`).expect(200);
    expect(live.body).toMatchObject({ current_version: 3, source: 'line 1\nline two\n', source_sha256: sha('line 1\nline two\n') });

    const list = await dana.get(`/scripts/${script.id}/versions`).expect(200);
    expect(list.body).toMatchObject({ total: 3, limit: 50, offset: 0 });
    expect(list.body.items.map((v: { version_number: number; change_description: string; semantic_version: string | null }) => [v.version_number, v.change_description, v.semantic_version])).toEqual([
      [3, 'third', null],
      [2, 'second', '1.1.0'],
      [1, 'first', null],
    ]);
    expect(list.body.items[0]).not.toHaveProperty('source');
    const paged = await dana.get(`/scripts/${script.id}/versions`, { limit: 1, offset: 1 }).expect(200);
    expect(paged.body.items.map((v: { version_number: number }) => v.version_number)).toEqual([2]);

    const v1 = await dana.get(`/scripts/${script.id}/versions/1`).expect(200);
    expect(v1.body).toMatchObject({ version_number: 1, source: 'line 1\n', script_body: 'line 1\n', created_by: 'dana' });
    expect((await dana.get(`/scripts/${script.id}/versions/9`)).status).toBe(404);
    expect((await dana.get(`/scripts/${script.id}/versions/0`)).body).toMatchObject({ status: 400, field: 'version' });
    expect((await dana.get(`/scripts/${randomUUID()}/versions`)).status).toBe(404);

    // The same source again is not a change; a semantic version is unique per script.
    expect((await dana.post(`/scripts/${script.id}/versions`, { source: 'line 1\nline two\n' })).body).toMatchObject({ status: 409, field: 'source' });
    expect((await dana.post(`/scripts/${script.id}/versions`, { source: 'other', semantic_version: '1.1.0' })).body).toMatchObject({ status: 409, field: 'semantic_version' });
    expect((await dana.get(`/scripts/${script.id}`)).body.current_version).toBe(3);
  });

  it('diffs two versions as a unified diff', async () => {
    const script = await dana.createScript({ source: 'a\nb\nc\n' });
    await dana.patch(`/scripts/${script.id}`, { source: 'a\nB\nc\nd\n' }).expect(200);
    const latest = await dana.get(`/scripts/${script.id}/versions/diff`).expect(200);
    expect(latest.body).toEqual({
      script_id: script.id,
      from_version: 1,
      to_version: 2,
      additions: 2,
      deletions: 1,
      diff: '--- v1\n+++ v2\n@@ -1,3 +1,4 @@\n a\n-b\n+B\n c\n+d\n',
    });
    const reverse = await dana.get(`/scripts/${script.id}/versions/diff`, { from: 2, to: 1 }).expect(200);
    expect(reverse.body).toMatchObject({ from_version: 2, to_version: 1, additions: 1, deletions: 2 });
    expect((await dana.get(`/scripts/${script.id}/versions/diff`, { from: 1, to: 1 })).body).toMatchObject({ diff: '', additions: 0, deletions: 0 });
    expect((await dana.get(`/scripts/${script.id}/versions/diff`, { from: 7 })).status).toBe(404);
    expect((await dana.get(`/scripts/${script.id}/versions/diff`, { from: 'one' })).body).toMatchObject({ status: 400, field: 'from' });
  });

  it('rolls back by creating a NEW version with the old source, audited and announced', async () => {
    const script = await dana.createScript({ source: 'v1' });
    await dana.patch(`/scripts/${script.id}`, { source: 'v2' }).expect(200);
    const rolled = await dana.post(`/scripts/${script.id}/versions/1/rollback`, {}).expect(201);
    expect(rolled.body).toMatchObject({ version_number: 3, source: 'v1', change_description: 'Rollback to version 1', created_by: 'dana' });
    expect((await dana.get(`/scripts/${script.id}`)).body).toMatchObject({ current_version: 3, source: 'v1' });
    expect(await q('SELECT version_number, source FROM script_versions WHERE script_id = $1 ORDER BY 1', [script.id])).toEqual([
      { version_number: 1, source: 'v1' },
      { version_number: 2, source: 'v2' },
      { version_number: 3, source: 'v1' },
    ]);
    const [audit] = await q(`SELECT action, actor_id, details FROM audit_events WHERE entity_id = $1 ORDER BY created_at DESC LIMIT 1`, [script.id]);
    expect(audit).toEqual({ action: 'rollback', actor_id: 'dana', details: expect.objectContaining({ rolled_back_to: 1, version_number: 3, previous_version: 2 }) });
    const events = await q(`SELECT payload->'data' AS data FROM outbox WHERE payload->>'subject' = $1 ORDER BY created_at`, [script.id]);
    expect(events.at(-1).data).toEqual({ script_id: script.id, change: 'version_created', status: 'draft', current_version: 3 });

    // Rolling back to what is live is refused; so is a version that does not exist.
    expect((await dana.post(`/scripts/${script.id}/versions/1/rollback`, {})).body).toMatchObject({ status: 409, field: 'version' });
    expect((await dana.post(`/scripts/${script.id}/versions/8/rollback`, {})).status).toBe(404);
    const custom = await dana.post(`/scripts/${script.id}/versions/2/rollback`, { change_description: 'v1 broke logins' }).expect(201);
    expect(custom.body).toMatchObject({ version_number: 4, change_description: 'v1 broke logins', source: 'v2' });
  });

  it('keeps numbers sequential under concurrent changes (row lock on the script)', async () => {
    const script = await dana.createScript({ source: 'start' });
    const responses = await Promise.all(Array.from({ length: 6 }, (_, i) => dana.patch(`/scripts/${script.id}`, { source: `edit ${i}` })));
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const numbers = (await q('SELECT version_number FROM script_versions WHERE script_id = $1 ORDER BY 1', [script.id])).map((r: { version_number: number }) => r.version_number);
    expect(numbers).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const [live] = await q('SELECT s.current_version, s.source = v.source AS same FROM scripts s JOIN script_versions v ON v.script_id = s.id AND v.version_number = 7 WHERE s.id = $1', [script.id]);
    expect(live).toEqual({ current_version: 7, same: true });
  });

  it('refuses new versions of an archived script', async () => {
    const script = await dana.createScript({ source: 'x' });
    await dana.patch(`/scripts/${script.id}`, { source: 'y' }).expect(200);
    await dana.post(`/scripts/${script.id}/status`, { status: 'archived' }).expect(200);
    expect((await dana.post(`/scripts/${script.id}/versions`, { source: 'z' })).body).toMatchObject({ status: 409, field: 'status' });
    expect((await dana.post(`/scripts/${script.id}/versions/1/rollback`, {})).body).toMatchObject({ status: 409, field: 'status' });
    expect((await dana.get(`/scripts/${script.id}/versions`)).body.total).toBe(2);
  });
});
