import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { createCloudEvent } from '@provisio/contracts';
import { migrations } from '@provisio/migrations';
import { createIsolatedSchema, createTenantFixture, IsolatedSchema, TenantFixture } from '../testing';
import { TenantDatabase } from './tenant-database';
import { OutboxEntryLike, TenantOutbox, UnscopedQueryError } from './tenant-scope';

/**
 * The tenant layer against the real PostgreSQL, in each way an app gets a handle: a caller's write, a
 * tenant's transaction without a caller (a job, a hook run), a transaction the caller already holds (a
 * Kafka consumer's), and named cross-tenant work. The outbox is a real table write (the platform's
 * OutboxService does the same INSERT; this lib cannot import the platform).
 */
describe('TenantDatabase (real PostgreSQL)', () => {
  let db: IsolatedSchema;
  let data: TenantDatabase;
  let a: TenantFixture;
  let b: TenantFixture;
  const outbox: TenantOutbox = {
    async enqueue(manager: EntityManager, entries: OutboxEntryLike | OutboxEntryLike[]) {
      for (const e of Array.isArray(entries) ? entries : [entries]) {
        await manager.query('INSERT INTO outbox (id, tenant_id, topic, message_key, event_type, payload) VALUES ($1, $2, $3, $4, $5, $6::jsonb)', [e.event.id, e.event.tenantid, e.topic, e.key, e.event.type, JSON.stringify(e.event)]);
      }
    },
    announceIfAny() {
      throw new Error('not used here');
    },
  };
  const event = (tenantid: string): OutboxEntryLike => ({ topic: 'test', key: tenantid, event: createCloudEvent({ source: 'test', type: 'test.happened', tenantid, data: {} }) });
  const script = async (tenant: TenantFixture, name: string) =>
    (await db.dataSource.query(`INSERT INTO scripts (tenant_id, organization_id, name, source, type, status) VALUES ($1, $2, $3, 'x', 'oneoff', 'draft') RETURNING id`, [tenant.tenantId, tenant.organizationId, name]))[0].id as string;

  beforeAll(async () => {
    db = await createIsolatedSchema(migrations);
    data = new TenantDatabase(db.dataSource, outbox);
    a = await createTenantFixture(db.dataSource);
    b = await createTenantFixture(db.dataSource);
    await script(a, 'a-1');
    await script(b, 'b-1');
  });
  afterAll(async () => db?.drop());

  it('reads only the tenant it was made for, from a tenant id alone', async () => {
    expect(await data.read(a.tenantId).query('SELECT name FROM scripts WHERE tenant_id = $1', [])).toEqual([{ name: 'a-1' }]);
    await expect(data.read(a.tenantId).query('SELECT name FROM scripts')).rejects.toThrow(UnscopedQueryError);
  });

  it("writes as a caller: the tenant, organization and user rows appear only if the write commits", async () => {
    const newcomer = { tenantId: randomUUID(), subject: 'first-timer' };
    await expect(
      data.write(newcomer, async (tx) => {
        expect(tx.actorId).toEqual(expect.any(Number));
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await db.dataSource.query('SELECT id FROM tenants WHERE id = $1', [newcomer.tenantId])).toEqual([]);
    const organizationId = await data.write(newcomer, async (tx) => tx.organizationId);
    expect(await db.dataSource.query('SELECT id FROM organizations WHERE tenant_id = $1', [newcomer.tenantId])).toEqual([{ id: organizationId }]);
  });

  it("joins a transaction the caller holds (a consumer's) and publishes only the tenant's own events", async () => {
    await db.dataSource.transaction(async (manager) => {
      const tx = data.join(manager, a.tenantId);
      expect(await tx.execute(`UPDATE scripts SET description = 'seen' WHERE tenant_id = $1 AND name = $2`, ['b-1'])).toBe(0);
      expect(await tx.execute(`UPDATE scripts SET description = 'seen' WHERE tenant_id = $1 AND name = $2`, ['a-1'])).toBe(1);
      await tx.publish(event(a.tenantId));
      await expect(tx.publish(event(b.tenantId))).rejects.toThrow(UnscopedQueryError);
    });
    expect(await db.dataSource.query(`SELECT name, description FROM scripts WHERE name IN ('a-1', 'b-1') ORDER BY name`)).toEqual([
      { name: 'a-1', description: 'seen' },
      { name: 'b-1', description: null },
    ]);
    expect(await db.dataSource.query('SELECT tenant_id FROM outbox WHERE tenant_id = ANY($1::uuid[])', [[a.tenantId, b.tenantId]])).toEqual([{ tenant_id: a.tenantId }]);
  });

  it('rolls back a tenant transaction (no caller) with its events', async () => {
    await expect(
      data.transaction(b.tenantId, async (tx) => {
        await tx.publish(event(b.tenantId));
        await tx.execute(`UPDATE scripts SET description = 'lost' WHERE tenant_id = $1`);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await db.dataSource.query('SELECT count(*)::int AS n FROM outbox WHERE tenant_id = $1', [b.tenantId])).toEqual([{ n: 0 }]);
  });

  it('does named cross-tenant work, and turns to one tenant inside it, checked again', async () => {
    const names = await data.allTenants('test: every tenant').query<{ name: string }>(`SELECT name FROM scripts WHERE name IN ('a-1', 'b-1') ORDER BY name`);
    expect(names.map((r) => r.name)).toEqual(['a-1', 'b-1']);
    await data.allTenantsTransaction('test: a sweep over every tenant', async (tx) => {
      const rows = await tx.query<{ tenant_id: string }>(`SELECT tenant_id FROM scripts WHERE name IN ('a-1', 'b-1') FOR UPDATE`);
      for (const row of rows) await tx.tenant(row.tenant_id).execute(`UPDATE scripts SET description = 'swept' WHERE tenant_id = $1`);
      await tx.publish([event(a.tenantId), event(b.tenantId)]);
      await expect(tx.tenant(a.tenantId).query('SELECT 1 FROM scripts')).rejects.toThrow(UnscopedQueryError);
    });
    expect(await db.dataSource.query(`SELECT DISTINCT description FROM scripts WHERE name IN ('a-1', 'b-1')`)).toEqual([{ description: 'swept' }]);
    expect(() => data.allTenants('')).toThrow('must say why');
  });
});
