/**
 * Scale-out with real processes: two built reconcilers (apps/reconciler/dist/main.js) on one database and
 * one Redis work the segments of one full run over the stack's SQL target; one is killed (SIGKILL)
 * mid-run. The survivor's sweep takes the dead one's segments back (a new generation each) and resumes
 * them from their checkpoints; the run completes with exactly the planted discrepancies and every
 * account counted once.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { sign } from 'jsonwebtoken';
import { migrations } from '@provisio/migrations';
import { createIsolatedSchema, IsolatedSchema } from '@provisio/persistence/testing';
import { parseKeyRing, SealedJsonCipher } from '@provisio/platform';
import { eventually, freePort, TEST_JWT_SECRET, testEnv, uniqueTopicPrefix } from '@provisio/platform/testing';
import { CREDENTIAL_KEY_VARIABLES } from '../config';
import { SQL_MAPPING, SqlTargetTable } from '../testing/reconciler-app';

jest.setTimeout(600_000);

const MAIN = join(__dirname, '..', '..', 'dist', 'main.js');
/** Identities u0…u(N-1); i % 200 == 3 has no account (missing), i % 100 == 1 a wrong display name (mismatch); N/200 orphans o<j>. */
const N = 40_000;
const ORPHANS = N / 200;
const isMissing = (i: number) => i % 200 === 3;
const isMismatch = (i: number) => i % 100 === 1;

/** The fields of a run (or an error body) this test reads. */
interface RunBody {
  id: string;
  status: string;
  accounts_processed: number;
  discrepancies_found: number;
  api_calls_made: number;
  error_message: string | null;
}

interface Replica {
  child: ChildProcess;
  port: number;
  output: () => string;
  exited: Promise<unknown>;
}

function startReplica(env: Record<string, string>, port: number): Replica {
  const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port), HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => (output = (output + chunk).slice(-200_000)));
  child.stderr!.on('data', (chunk) => (output = (output + chunk).slice(-200_000)));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return { child, port, output: () => output, exited };
}

describe('one run worked by two reconciler processes, one killed mid-run', () => {
  let db: IsolatedSchema;
  let target: SqlTargetTable;
  const replicas: Replica[] = [];

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`build first (npx nx run reconciler:build): ${MAIN} is missing`);
    db = await createIsolatedSchema(migrations);
    target = await SqlTargetTable.create();
  });

  afterAll(async () => {
    for (const replica of replicas) if (replica.child.exitCode === null && replica.child.signalCode === null) replica.child.kill('SIGKILL');
    await target?.drop();
    await db?.drop();
  });

  it('completes with exactly the planted discrepancies, every account counted once', async () => {
    const tenantId = randomUUID();
    const connectorId = randomUUID();
    await db.dataSource.query(`INSERT INTO tenants (id, name, slug) VALUES ($1, $2, $2)`, [tenantId, `t-${tenantId.slice(0, 8)}`]);
    await db.dataSource.query(`INSERT INTO organizations (tenant_id, name, is_default) VALUES ($1, 'default', true)`, [tenantId]);
    const keys = `test1:${randomBytes(32).toString('base64')}`;
    const cipher = new SealedJsonCipher(parseKeyRing(keys, undefined, CREDENTIAL_KEY_VARIABLES), { purpose: 'connector-credentials', what: 'credentials' });
    await db.dataSource.query(
      `INSERT INTO connectors (id, tenant_id, name, type, config, credentials_encrypted, attribute_mapping) VALUES ($1, $2, 'scale-out', 'sql', $3, $4, $5)`,
      [connectorId, tenantId, JSON.stringify(target.config()), cipher.encrypt({ password: '' }, [tenantId, connectorId]), JSON.stringify(SQL_MAPPING)],
    );
    await db.dataSource.query(
      `INSERT INTO identities (tenant_id, username, email, display_name, status)
       SELECT $1, 'u' || i, 'u' || i || '@scale.test', 'Person ' || i, 'active' FROM generate_series(0, $2 - 1) i`,
      [tenantId, N],
    );
    await db.dataSource.query(
      `INSERT INTO account_links (tenant_id, connector_id, identity_id, external_uid)
       SELECT $1, $2, id, username FROM identities WHERE tenant_id = $1 AND (substring(username from 2)::int % 200) <> 3`,
      [tenantId, connectorId],
    );
    await target.client.query(
      `INSERT INTO ${target.name} (user_name, display_name, email)
       SELECT 'u' || i, CASE WHEN i % 100 = 1 THEN 'Wrong ' || i ELSE 'Person ' || i END, 'u' || i || '@scale.test' FROM generate_series(0, $1 - 1) i WHERE i % 200 <> 3
       UNION ALL SELECT 'o' || j, 'Orphan ' || j, 'o' || j || '@elsewhere.test' FROM generate_series(0, $2 - 1) j`,
      [N, ORPHANS],
    );
    const accounts = N - N / 200 + ORPHANS;

    const env = testEnv({
      DATABASE_SCHEMA: db.schema,
      KAFKA_TOPIC_PREFIX: uniqueTopicPrefix(),
      REDIS_KEY_PREFIX: `rc-scale-${randomBytes(4).toString('hex')}`,
      LOG_LEVEL: 'info',
      CONNECTOR_CREDENTIALS_KEYS: keys,
      DATABASE_POOL_SIZE: '6',
      RECONCILIATION_PAGE_SIZE: '100',
      RECONCILIATION_SEGMENTS: '8',
      RECONCILIATION_CONCURRENCY: '2',
      RECONCILIATION_SWEEP_INTERVAL_MS: '1000',
      RECONCILIATION_ABANDONED_AFTER_MS: '4000',
    });
    for (let i = 0; i < 2; i++) replicas.push(startReplica(env, await freePort()));
    for (const replica of replicas) {
      await eventually(async () => (await fetch(`http://127.0.0.1:${replica.port}/health/ready`).catch(() => null))?.ok, { what: 'reconciler ready', timeoutMs: 90_000 });
    }
    const [doomed, survivor] = replicas;
    const token = sign({ sub: 'scale-out', tenant_id: tenantId, permissions: ['reconciliation:read', 'reconciliation:write'] }, TEST_JWT_SECRET, { algorithm: 'HS256', expiresIn: '1h' });
    const api = async (port: number, path: string, body?: unknown) => {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.json()) as RunBody };
    };
    const created = await api(doomed.port, '/reconciliation/runs', { connector_id: connectorId, mode: 'full', dry_run: true });
    expect(created.status).toBe(201);
    const runId: string = created.body.id;

    const segments = () =>
      db.dataSource.query(
        `SELECT kind, segment, done, generation, accounts_read, pages, worked_by FROM reconciliation_run_segments WHERE run_id = $1 ORDER BY kind, segment`,
        [runId],
      ) as Promise<{ kind: string; segment: number; done: boolean; generation: number; accounts_read: number; pages: number; worked_by: string[] }[]>;
    const pidOf = (replica: Replica) => `:${replica.child.pid}`;
    const workedBy = (rows: { worked_by: string[] }[], replica: Replica) => rows.some((s) => s.worked_by.some((w) => w.endsWith(pidOf(replica))));

    const explain = async (error: unknown) => {
      const run = (await api(survivor.port, `/reconciliation/runs/${runId}`).catch(() => ({ body: null }))).body;
      const tail = (r: Replica) => r.output().split('\n').filter((l) => /warn|error|segment|sweep/i.test(l)).slice(-15).join('\n');
      return new Error(`${(error as Error).message}\nrun: ${JSON.stringify(run)}\nsegments: ${JSON.stringify(await segments())}\n--- doomed:\n${tail(doomed)}\n--- survivor:\n${tail(survivor)}`);
    };

    // Both replicas hold segments and the reading is under way, far from done: kill one.
    await eventually(
      async () => {
        const rows = await segments();
        const run = (await api(survivor.port, `/reconciliation/runs/${runId}`)).body;
        if (run.status !== 'running' && run.status !== 'pending') throw new Error(`the run is ${run.status} before the kill`);
        return workedBy(rows, doomed) && workedBy(rows, survivor) && run.accounts_processed >= accounts * 0.15;
      },
      { what: 'both replicas working segments', timeoutMs: 120_000, intervalMs: 100 },
    ).catch(async (error) => {
      throw await explain(error);
    });
    const atKill = (await api(survivor.port, `/reconciliation/runs/${runId}`)).body;
    expect(atKill.status).toBe('running');
    expect(atKill.accounts_processed).toBeLessThan(accounts * 0.8);
    doomed.child.kill('SIGKILL');
    await doomed.exited;

    let done: RunBody | undefined;
    await eventually(
      async () => {
        const run = (await api(survivor.port, `/reconciliation/runs/${runId}`)).body;
        if (['failed', 'cancelled'].includes(run.status)) throw new Error(`the run ended ${run.status}: ${run.error_message}`);
        if (run.status === 'completed') done = run as NonNullable<typeof done>;
        return run.status === 'completed';
      },
      { what: 'the run completed on the survivor', timeoutMs: 300_000, intervalMs: 500 },
    ).catch(async (error) => {
      throw await explain(error);
    });
    expect(done).toMatchObject({ status: 'completed', accounts_processed: accounts, discrepancies_found: N / 100 + ORPHANS + N / 200 });

    // Exactly the planted discrepancies: each mismatch once, each orphan once, each missing identity once.
    const found: { discrepancy_type: string; external_uid: string | null; username: string | null; attribute_name: string | null }[] = await db.dataSource.query(
      `SELECT d.discrepancy_type, d.external_uid, i.username, d.attribute_name FROM discrepancies d LEFT JOIN identities i ON i.id = d.identity_id WHERE d.run_id = $1`,
      [runId],
    );
    const of = (type: string) => found.filter((d) => d.discrepancy_type === type);
    const range = (n: number) => Array.from({ length: n }, (_, i) => i);
    expect(of('mismatch').map((d) => `${d.external_uid}/${d.attribute_name}`).sort()).toEqual(range(N).filter(isMismatch).map((i) => `u${i}/displayName`).sort());
    expect(of('orphan').map((d) => d.external_uid).sort()).toEqual(range(ORPHANS).map((j) => `o${j}`).sort());
    expect(of('missing').map((d) => d.username).sort()).toEqual(range(N).filter(isMissing).map((i) => `u${i}`).sort());
    expect(found.length).toBe(of('mismatch').length + of('orphan').length + of('missing').length);

    // Every account staged once: the read segments' counts (committed with their pages) add up to the target's accounts.
    const after = await segments();
    const reads = after.filter((s) => s.kind === 'read');
    expect(reads.length).toBeGreaterThan(1);
    expect(reads.reduce((n, s) => n + s.accounts_read, 0)).toBe(accounts);
    expect(after.filter((s) => s.kind === 'expect').reduce((n, s) => n + s.accounts_read, 0)).toBe(N);
    expect(after.every((s) => s.done)).toBe(true);
    // Both worked segments; what the dead one held was taken back (a new generation) and finished by the survivor.
    expect(workedBy(after, doomed)).toBe(true);
    expect(workedBy(after, survivor)).toBe(true);
    const takenBack = after.filter((s) => s.generation > 0);
    expect(takenBack.length).toBeGreaterThan(0);
    for (const segment of takenBack) expect(segment.worked_by[segment.worked_by.length - 1]).toMatch(new RegExp(`${pidOf(survivor)}$`));
    expect(survivor.output()).toContain('sweep took back a reconciliation segment');
    // A page the dead replica was reading rolled back with its checkpoint (it is read again, and counted once).
    expect(done!.api_calls_made).toBe(reads.reduce((n, s) => n + s.pages, 0));
    expect(reads.every((s) => s.pages === Math.max(1, Math.ceil(s.accounts_read / 100)))).toBe(true);

    survivor.child.kill('SIGTERM');
    await survivor.exited;
  });
});
