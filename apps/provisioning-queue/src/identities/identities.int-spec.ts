import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { Caller, ProvisioningTestApp, startProvisioningQueue } from '../testing/provisioning-app';

describe('provisioning-queue: identities API', () => {
  let t: ProvisioningTestApp;
  let own: Caller;

  beforeAll(async () => {
    t = await startProvisioningQueue();
    own = t.caller();
  });
  afterAll(async () => t?.close());

  it('creates, reads, merges attributes on update, and deletes an identity', async () => {
    const created = await own.createIdentity({ username: 'zoe', email: 'zoe@example.com', display_name: 'Zoë Ł', attributes: { department: 'Finance', title: 'Analyst' } });
    expect(created).toMatchObject({ tenant_id: own.tenantId, username: 'zoe', status: 'active', attributes: { department: 'Finance', title: 'Analyst' }, source_user_id: null });
    expect((await own.get(`/identities/${created.id}`)).body).toEqual(created);

    const updated = await own.patch(`/identities/${created.id}`, { status: 'suspended', attributes: { title: null, manager: 'u-7' } });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ status: 'suspended', attributes: { department: 'Finance', manager: 'u-7' } });
    expect(updated.body.attributes).not.toHaveProperty('title');
    expect(new Date(updated.body.updated_at).getTime()).toBeGreaterThanOrEqual(new Date(created.updated_at).getTime());

    expect((await own.delete(`/identities/${created.id}`)).status).toBe(204);
    expect((await own.get(`/identities/${created.id}`)).status).toBe(404);
    expect((await own.delete(`/identities/${created.id}`)).status).toBe(404);
  });

  it('refuses a taken username or source_user_id with 409 naming the field, and writes nothing', async () => {
    const first = await own.createIdentity({ source_user_id: `src-${randomUUID()}` });
    const before = await t.db.dataSource.query('SELECT count(*)::int AS n FROM identities');
    const taken = await own.post('/identities', { username: first.username });
    expect({ status: taken.status, field: taken.body.field }).toEqual({ status: 409, field: 'username' });
    const takenSource = await own.post('/identities', { username: `other-${randomUUID()}`, source_user_id: first.source_user_id });
    expect({ status: takenSource.status, field: takenSource.body.field }).toEqual({ status: 409, field: 'source_user_id' });
    const second = await own.createIdentity();
    const rename = await own.patch(`/identities/${second.id}`, { username: first.username });
    expect({ status: rename.status, field: rename.body.field }).toEqual({ status: 409, field: 'username' });
    expect(await t.db.dataSource.query('SELECT count(*)::int AS n FROM identities')).toEqual([{ n: before[0].n + 1 }]);
  });

  it('answers 400 naming the field for bad input', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{}, 'username'],
      [{ username: 'x'.repeat(256) }, 'username'],
      [{ username: 'a', email: 'not-an-email' }, 'email'],
      [{ username: 'a', status: 'deleted' }, 'status'],
      [{ username: 'a', attributes: ['x'] }, 'attributes'],
      [{ username: 'a', attributes: { big: 'x'.repeat(70_000) } }, 'attributes'],
      [{ username: 'a', password: 'x' }, 'password'],
    ];
    for (const [body, field] of cases) {
      const response = await own.post('/identities', body);
      expect({ body, status: response.status, field: response.body.field }).toEqual({ body, status: 400, field });
    }
    const list = await own.get('/identities', { attributes: '{not json' });
    expect({ status: list.status, field: list.body.field }).toEqual({ status: 400, field: 'attributes' });
    const since = await own.get('/identities', { updated_since: 'yesterday' });
    expect({ status: since.status, field: since.body.field }).toEqual({ status: 400, field: 'updated_since' });
    expect((await own.patch(`/identities/${randomUUID()}`, {})).status).toBe(400);
  });

  it('stores NUL characters and lone surrogates in attributes as U+FFFD instead of failing', async () => {
    const created = await own.createIdentity({ display_name: 'bad\u0000name', attributes: { note: 'a\u0000b', ['key\u0000']: 'v', lone: 'x\uD800y' } });
    expect(created.display_name).toBe('bad\uFFFDname');
    expect(created.attributes).toEqual({ note: 'a\uFFFDb', 'key\uFFFD': 'v', lone: 'x\uFFFDy' });
  });

  it('lists with filters on status, username, email, attributes and updated_since, paginated', async () => {
    const caller = t.caller();
    const a = await caller.createIdentity({ username: 'ann', email: 'Ann@Example.com', attributes: { department: 'Finance', level: 3 } });
    const b = await caller.createIdentity({ username: 'bob', status: 'inactive', attributes: { department: 'Finance' } });
    const c = await caller.createIdentity({ username: 'cid', attributes: { department: 'IT' } });
    const ids = async (query: Record<string, unknown>) => (await caller.get('/identities', query)).body.items.map((i: { id: string }) => i.id);

    expect(await ids({})).toEqual([a.id, b.id, c.id]);
    expect(await ids({ status: 'inactive' })).toEqual([b.id]);
    expect(await ids({ username: 'cid' })).toEqual([c.id]);
    expect(await ids({ email: 'ann@example.COM' })).toEqual([a.id]);
    expect(await ids({ attributes: JSON.stringify({ department: 'Finance' }) })).toEqual([a.id, b.id]);
    expect(await ids({ attributes: JSON.stringify({ department: 'Finance', level: 3 }) })).toEqual([a.id]);

    await new Promise((resolve) => setTimeout(resolve, 20));
    const mark = new Date().toISOString();
    await caller.patch(`/identities/${b.id}`, { display_name: 'Bob' });
    expect(await ids({ updated_since: mark })).toEqual([b.id]);

    const paged = await caller.get('/identities', { limit: 2, offset: 1 });
    expect(paged.body).toMatchObject({ total: 3, limit: 2, offset: 1 });
    expect(paged.body.items.map((i: { id: string }) => i.id)).toEqual([b.id, c.id]);
    // Another tenant sees none of them.
    expect((await t.caller().get('/identities')).body).toMatchObject({ items: [], total: 0 });
  });

  it("lists an identity's account links with their connector", async () => {
    const identity = await own.createIdentity();
    const [{ id: connectorId }] = await t.db.dataSource.query(`INSERT INTO connectors (tenant_id, name, type) VALUES ($1, $2, 'sql') RETURNING id`, [own.tenantId, `c-${randomUUID()}`]);
    await t.db.dataSource.query(`INSERT INTO account_links (tenant_id, identity_id, connector_id, external_uid) VALUES ($1, $2, $3, 'ext-42')`, [own.tenantId, identity.id, connectorId]);
    const response = await own.get(`/identities/${identity.id}/accounts`);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ total: 1, limit: 50, offset: 0, items: [{ identity_id: identity.id, connector_id: connectorId, connector_type: 'sql', object_class: 'account', external_uid: 'ext-42' }] });
    expect((await t.caller().get(`/identities/${identity.id}/accounts`)).status).toBe(404);
  });

  it('passes every change, and only changes, through the identity-change hook', async () => {
    const changes = async () => {
      const text = (await request(t.app.getHttpServer()).get('/metrics')).text;
      const count = (kind: string) => {
        const line = text.split('\n').find((l) => l.startsWith('provisio_identity_changes_total{') && l.includes(`kind="${kind}"`) && l.includes('cause="api"'));
        return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
      };
      return { created: count('created'), updated: count('updated'), deleted: count('deleted'), removed: count('removed') };
    };
    const before = await changes();
    const identity = await own.createIdentity({ attributes: { a: 1 } });
    await own.patch(`/identities/${identity.id}`, { attributes: { a: 2 } }).expect(200);
    await own.patch(`/identities/${identity.id}`, { attributes: { a: 2 } }).expect(200); // changes nothing: not recorded
    await own.patch(`/identities/${identity.id}`, { status: 'deleted' }).expect(200);
    await own.delete(`/identities/${identity.id}`).expect(204);
    await own.post('/identities', { username: identity.username }).expect(201); // the name is free again
    expect(await changes()).toEqual({ created: before.created + 2, updated: before.updated + 1, deleted: before.deleted + 1, removed: before.removed + 1 });
  });
});
