import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Consumer } from 'kafkajs';
import { EventType, Topic } from '@provisio/contracts';
import { migrations } from '@provisio/migrations';
import { createIsolatedSchema, createTenantFixture, IsolatedSchema, TenantFixture } from '@provisio/persistence/testing';
import { ensureTopics } from '@provisio/platform';
import { eventually, freePort, sleep, testEnv, testKafka, uniqueTopicPrefix } from '@provisio/platform/testing';

/**
 * Two scheduler replicas as real processes (the built apps/scheduler/dist/main.js) on one database and
 * one Kafka cluster, with reconciliation schedules due every second (`cron` `* * * * * *`, so a short
 * window holds many occurrences). What the reconciliation topic holds, read from its beginning, is what
 * was fired: every occurrence exactly once, split between the replicas.
 */
const MAIN = join(__dirname, '..', '..', 'dist', 'main.js');
const SCHEDULES = 20;
const WINDOW_S = 12;

interface Replica {
  name: string;
  child: ChildProcess;
  port: number;
  output: () => string;
}

interface Requested {
  schedule_id: string;
  connector_id: string;
  mode: string;
  scheduled_for: string;
  catch_up: boolean;
  missed_occurrences?: number;
}

describe('scheduler replicas: every reconciliation occurrence exactly once', () => {
  let db: IsolatedSchema;
  let tenant: TenantFixture;
  let prefix: string;
  let replicas: Replica[] = [];
  let reader: Consumer;
  const kafka = testKafka();
  /** `${schedule}|${scheduled_for}` → how many requests the topic holds for it. */
  const fired = new Map<string, number>();
  const requests: Requested[] = [];
  const scheduleIds: string[] = [];
  let start: number;

  async function startReplica(name: string): Promise<Replica> {
    const port = await freePort();
    const env = testEnv({
      DATABASE_SCHEMA: db.schema,
      KAFKA_TOPIC_PREFIX: prefix,
      PORT: String(port),
      SCHEDULER_REPLICA_ID: `scheduler-${name}`,
      // Small batches: both replicas claim at the same instants, SKIP LOCKED splits the rows between them.
      SCHEDULER_BATCH_SIZE: '4',
      OUTBOX_LEASE_MS: '2000',
      OUTBOX_POLL_INTERVAL_MS: '20',
    });
    const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    return { name, child, port, output: () => output };
  }

  const ready = (replica: Replica) =>
    eventually(async () => (await fetch(`http://127.0.0.1:${replica.port}/health/ready`).catch(() => null))?.ok, { what: `${replica.name} ready (${replica.output().slice(-500)})`, timeoutMs: 60_000 });

  async function insertSchedule(row: Record<string, unknown>): Promise<{ scheduleId: string; connectorId: string }> {
    const connectorId = randomUUID();
    await db.dataSource.query(`INSERT INTO connectors (id, tenant_id, name, type, config) VALUES ($1, $2, $3, 'sql', '{}')`, [connectorId, tenant.tenantId, `c-${connectorId.slice(0, 8)}`]);
    const columns = ['tenant_id', 'connector_id', ...Object.keys(row)];
    const values = [tenant.tenantId, connectorId, ...Object.values(row)];
    const [{ id }] = await db.dataSource.query(`INSERT INTO reconciliation_schedules (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`, values);
    return { scheduleId: id, connectorId };
  }

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`build first (npm test does): ${MAIN} is missing`);
    db = await createIsolatedSchema(migrations);
    tenant = await createTenantFixture(db.dataSource);
    prefix = uniqueTopicPrefix();
    const admin = kafka.admin();
    await admin.connect();
    await eventually(() => ensureTopics(admin, prefix).then(() => true, () => false), { what: 'topics created', timeoutMs: 30_000 });
    await admin.disconnect();

    for (let i = 0; i < SCHEDULES; i++) {
      const { scheduleId } = await insertSchedule({ mode: i % 2 ? 'delta' : 'full', frequency: 'cron', cron_expression: '* * * * * *', next_run_at: new Date('2099-01-01T00:00:00Z') });
      scheduleIds.push(scheduleId);
    }

    reader = kafka.consumer({ groupId: `reader-${prefix}`, allowAutoTopicCreation: false });
    await reader.connect();
    await reader.subscribe({ topic: prefix + Topic.ReconciliationRuns, fromBeginning: true });
    await reader.run({
      eachMessage: async ({ message }) => {
        const event = JSON.parse(message.value!.toString());
        if (event.type !== EventType.ReconciliationRequested) return;
        requests.push(event.data);
        const key = `${event.data.schedule_id}|${event.data.scheduled_for}`;
        fired.set(key, (fired.get(key) ?? 0) + 1);
      },
    });

    replicas = [await startReplica('a'), await startReplica('b')];
    await Promise.all(replicas.map(ready));
    start = (Math.floor(Date.now() / 1000) + 2) * 1000;
    await db.dataSource.query('UPDATE reconciliation_schedules SET next_run_at = $1', [new Date(start)]);
  });

  afterAll(async () => {
    for (const replica of replicas) if (replica.child.exitCode === null && replica.child.signalCode === null) replica.child.kill('SIGKILL');
    await reader?.disconnect().catch(() => undefined);
    await db?.drop();
  });

  it(`${SCHEDULES} schedules every second on two replicas for ${WINDOW_S} s: each occurrence requested exactly once, rows kept true`, async () => {
    const last = start + (WINDOW_S - 1) * 1000;
    const expected = (until: number) => scheduleIds.flatMap((id) => Array.from({ length: (until - start) / 1000 + 1 }, (_, i) => `${id}|${new Date(start + i * 1000).toISOString()}`));
    await sleep(Math.max(0, last - Date.now()));
    await eventually(async () => expected(last).every((k) => fired.has(k)), { what: 'every occurrence of the window on the topic', timeoutMs: 30_000 });
    // Stop firing, so the topic and the replicas' counters can be compared; a duplicate would arrive meanwhile.
    await db.dataSource.query('UPDATE reconciliation_schedules SET enabled = false');
    await sleep(1_500);

    const missing = expected(last).filter((k) => !fired.has(k));
    const duplicated = [...fired].filter(([, n]) => n > 1).map(([k]) => k);
    const early = [...fired.keys()].filter((k) => Date.parse(k.split('|')[1]) < start);
    expect({ missing, duplicated, early }).toEqual({ missing: [], duplicated: [], early: [] });
    expect(requests.find((r) => r.schedule_id === scheduleIds[1])).toMatchObject({ mode: 'delta', catch_up: false });

    // Both replicas fired some (their own metrics say so), and together exactly what the topic holds.
    const firedBy = await Promise.all(
      replicas.map(async (replica) => {
        const text = await (await fetch(`http://127.0.0.1:${replica.port}/metrics`)).text();
        return Number(/provisio_scheduler_reconciliations_fired_total\{[^}]*kind="scheduled"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
      }),
    );
    expect(firedBy[0]).toBeGreaterThan(0);
    expect(firedBy[1]).toBeGreaterThan(0);
    expect(firedBy[0] + firedBy[1]).toBe(fired.size);

    // last_run_at is the last occurrence fired, next_run_at the one after it, outcome `requested`.
    const rows: { id: string; last_run_at: Date; next_run_at: Date; last_outcome: string }[] = await db.dataSource.query('SELECT id, last_run_at, next_run_at, last_outcome FROM reconciliation_schedules WHERE id = ANY($1)', [scheduleIds]);
    for (const row of rows) {
      const latest = Math.max(...[...fired.keys()].filter((k) => k.startsWith(`${row.id}|`)).map((k) => Date.parse(k.split('|')[1])));
      expect({ last: row.last_run_at.getTime(), next: row.next_run_at.getTime() - row.last_run_at.getTime(), outcome: row.last_outcome }).toEqual({ last: latest, next: 1000, outcome: 'requested' });
    }
    console.log(`reconciliation replicas: ${fired.size} occurrences (a fired ${firedBy[0]}, b ${firedBy[1]})`);
  });

  it('after downtime, a schedule fires once for its latest missed occurrence and moves past now; NULL next_run_at is filled', async () => {
    await db.dataSource.query('UPDATE reconciliation_schedules SET enabled = false');
    const hourAgo = (h: number) => new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - h * 3_600_000);
    const late = await insertSchedule({ mode: 'full', frequency: 'hourly', next_run_at: hourAgo(5) });
    const fresh = await insertSchedule({ mode: 'full', frequency: 'daily', hour_of_day: 3, next_run_at: null });
    await eventually(async () => requests.some((r) => r.schedule_id === late.scheduleId), { what: 'the catch-up request', timeoutMs: 15_000 });
    await sleep(1_500);

    const caught = requests.filter((r) => r.schedule_id === late.scheduleId);
    expect(caught).toEqual([expect.objectContaining({ connector_id: late.connectorId, scheduled_for: hourAgo(0).toISOString(), catch_up: true, missed_occurrences: 6 })]);
    const [row] = await db.dataSource.query('SELECT last_run_at, next_run_at FROM reconciliation_schedules WHERE id = $1', [late.scheduleId]);
    expect(row.last_run_at.toISOString()).toBe(hourAgo(0).toISOString());
    expect(row.next_run_at.toISOString()).toBe(new Date(hourAgo(0).getTime() + 3_600_000).toISOString());

    const [filled] = await db.dataSource.query('SELECT next_run_at FROM reconciliation_schedules WHERE id = $1', [fresh.scheduleId]);
    expect(filled.next_run_at).not.toBeNull();
    expect(filled.next_run_at.getUTCHours()).toBe(3);
    expect(filled.next_run_at.getTime()).toBeGreaterThan(Date.now());
    expect(requests.some((r) => r.schedule_id === fresh.scheduleId)).toBe(false);
  });
});
