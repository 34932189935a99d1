/**
 * Integration-test harness of the reconciler (tests only; never imported by the app): boots the real app
 * on its own PostgreSQL schema, Kafka topic prefix and Redis key prefix, with connector credential keys
 * generated for the run; makes the rows the reconciler has no API for (connectors, identities and
 * account links belong to the provisioning queue) and a SQL target table of its own.
 */
import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { Permission } from '@provisio/contracts';
import { migrations } from '@provisio/migrations';
import { ensureTenant } from '@provisio/persistence';
import { createIsolatedSchema, IsolatedSchema } from '@provisio/persistence/testing';
import { configureApp, loadConfig, parseKeyRing, SealedJsonCipher } from '@provisio/platform';
import { ApiCaller, testEnv, uniqueTopicPrefix } from '@provisio/platform/testing';
import { AppModule } from '../app.module';
import { appConfigSchema, CREDENTIAL_KEY_VARIABLES } from '../config';
import { RunEngine } from '../runs/run-engine.service';

export const ALL_PERMISSIONS: string[] = Object.values(Permission);

export interface ReconcilerTestApp {
  app: INestApplication;
  db: IsolatedSchema;
  engine: RunEngine;
  /** This app's Kafka topic prefix (its topics are `<prefix>provisio.…`). */
  prefix: string;
  caller(options?: { tenantId?: string; subject?: string; permissions?: string[] }): Caller;
  /** A connector row of the tenant, credentials sealed as the provisioning queue seals them. */
  insertConnector(tenantId: string, row: { type: string; config: unknown; credentials?: unknown; attribute_mapping?: unknown[]; provisioning_policy?: unknown }): Promise<string>;
  close(): Promise<void>;
}

export async function startReconciler(env: Record<string, string> = {}): Promise<ReconcilerTestApp> {
  const db = await createIsolatedSchema(migrations);
  const prefix = uniqueTopicPrefix();
  const keys = `test1:${randomBytes(32).toString('base64')}`;
  let app: INestApplication | undefined;
  try {
    const config = loadConfig(
      appConfigSchema,
      testEnv({
        DATABASE_SCHEMA: db.schema,
        KAFKA_TOPIC_PREFIX: prefix,
        REDIS_KEY_PREFIX: `rc-${prefix.replace(/\W/g, '')}`,
        DATABASE_POOL_SIZE: '6',
        CONNECTOR_CREDENTIALS_KEYS: keys,
        RECONCILIATION_SWEEP_INTERVAL_MS: '500',
        ...env,
      }),
    );
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] }).compile();
    app = moduleRef.createNestApplication({ logger: ['error', 'warn'] });
    configureApp(app, { docs: { title: 'reconciler', description: 'tests' } });
    await app.init();
  } catch (error) {
    await app?.close().catch(() => undefined);
    await db.drop();
    throw error;
  }
  const started = app;
  const cipher = new SealedJsonCipher(parseKeyRing(keys, undefined, CREDENTIAL_KEY_VARIABLES), { purpose: 'connector-credentials', what: 'credentials' });
  return {
    app: started,
    db,
    engine: started.get(RunEngine),
    prefix,
    caller: ({ tenantId = randomUUID(), subject = `user-${randomUUID().slice(0, 8)}`, permissions = ALL_PERMISSIONS } = {}) => new Caller(started, tenantId, subject, permissions),
    insertConnector: async (tenantId, row) => {
      await ensureTenant(db.dataSource, tenantId);
      const id = randomUUID();
      const sealed = row.credentials === undefined ? null : cipher.encrypt(row.credentials, [tenantId, id]);
      await db.dataSource.query(
        `INSERT INTO connectors (id, tenant_id, name, type, config, credentials_encrypted, attribute_mapping, provisioning_policy) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [id, tenantId, `c-${id.slice(0, 8)}`, row.type, JSON.stringify(row.config), sealed, JSON.stringify(row.attribute_mapping ?? []), JSON.stringify(row.provisioning_policy ?? {})],
      );
      return id;
    },
    close: async () => {
      await started.close();
      await db.drop();
    },
  };
}

/** Requests as one principal. */
export class Caller extends ApiCaller {}

/** A table of accounts in the stack's SQL target (PostgreSQL), dropped by `drop()`. */
export class SqlTargetTable {
  readonly name = `recon_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  private constructor(readonly client: Client) {}

  static async create(): Promise<SqlTargetTable> {
    const url = process.env.SQL_TARGET_PG_URL;
    if (!url) throw new Error('SQL_TARGET_PG_URL is not set (source .stack/stack.env)');
    const client = new Client({ connectionString: url });
    await client.connect();
    const table = new SqlTargetTable(client);
    await client.query(
      `CREATE TABLE ${table.name} (user_name text PRIMARY KEY, display_name text, email text, enabled boolean NOT NULL DEFAULT true, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`,
    );
    await client.query(`CREATE INDEX ON ${table.name} (updated_at, user_name)`);
    return table;
  }

  config(): Record<string, unknown> {
    const url = new URL(process.env.SQL_TARGET_PG_URL!);
    return {
      dialect: 'postgres',
      host: url.hostname,
      port: Number(url.port || 5432),
      database: url.pathname.slice(1),
      user: decodeURIComponent(url.username),
      accounts: { table: this.name, keyColumn: 'user_name', columns: { userName: 'user_name', displayName: 'display_name', email: 'email' }, updatedAtColumn: 'updated_at', enabled: { column: 'enabled' } },
    };
  }

  async insert(rows: { user_name: string; display_name?: string | null; email?: string | null }[]): Promise<void> {
    if (!rows.length) return;
    await this.client.query(
      `INSERT INTO ${this.name} (user_name, display_name, email) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])`,
      [rows.map((r) => r.user_name), rows.map((r) => r.display_name ?? null), rows.map((r) => r.email ?? null)],
    );
  }

  async drop(): Promise<void> {
    await this.client.query(`DROP TABLE IF EXISTS ${this.name}`).catch(() => undefined);
    await this.client.end();
  }
}

export const SQL_MAPPING = [
  { target: 'userName', from: 'username', required: true },
  { target: 'displayName', from: 'display_name' },
  { target: 'email', from: 'email' },
];

/** Identities and links straight into the identity store's tables (the provisioning queue's). */
export async function insertIdentities(db: IsolatedSchema, tenantId: string, identities: { username: string; email?: string | null; display_name?: string | null; status?: string }[]): Promise<Map<string, string>> {
  const rows: { id: string; username: string }[] = await db.dataSource.query(
    `INSERT INTO identities (tenant_id, username, email, display_name, status)
     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) RETURNING id, username`,
    [tenantId, identities.map((i) => i.username), identities.map((i) => i.email ?? null), identities.map((i) => i.display_name ?? null), identities.map((i) => i.status ?? 'active')],
  );
  return new Map(rows.map((r) => [r.username, r.id]));
}

export async function insertLinks(db: IsolatedSchema, tenantId: string, connectorId: string, links: { identity_id: string; external_uid: string }[]): Promise<void> {
  if (!links.length) return;
  await db.dataSource.query(
    `INSERT INTO account_links (tenant_id, connector_id, identity_id, external_uid) SELECT $1, $2, * FROM unnest($3::uuid[], $4::text[])`,
    [tenantId, connectorId, links.map((l) => l.identity_id), links.map((l) => l.external_uid)],
  );
}

/** Polls the run until `done` says so (or fails the test after `timeoutMs`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function waitForRun(caller: Caller, id: string, done: (run: any) => boolean, timeoutMs = 30_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await caller.get(`/reconciliation/runs/${id}`);
    if (response.status !== 200) throw new Error(`GET run: ${response.status} ${JSON.stringify(response.body)}`);
    if (done(response.body)) return response.body;
    if (Date.now() > deadline) throw new Error(`run ${id} did not get there: ${JSON.stringify(response.body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
