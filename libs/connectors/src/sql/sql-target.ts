/**
 * For tests and benches: the stack's SQL target databases (SQL_TARGET_PG_URL, SQL_TARGET_MARIADB_URL from
 * the environment or .stack/stack.env), a table of a random name made for the caller and dropped after, a
 * connector config mapping it, and a raw seeder that writes rows without the connector.
 */
import { randomBytes } from 'node:crypto';
import { createConnection } from 'mysql2/promise';
import { Client } from 'pg';
import { stackVariable } from '../ldap/ldap-target';
import { SqlConfig, sqlConfigSchema, SqlCredentials } from './sql-config';

export type SqlDialect = SqlConfig['dialect'];

export interface SqlTarget {
  dialect: SqlDialect;
  url: string;
}

export function sqlTarget(dialect: SqlDialect): SqlTarget {
  const url = stackVariable(dialect === 'postgres' ? 'SQL_TARGET_PG_URL' : 'SQL_TARGET_MARIADB_URL');
  if (!url) throw new Error(`${dialect === 'postgres' ? 'SQL_TARGET_PG_URL' : 'SQL_TARGET_MARIADB_URL'} is not set and .stack/stack.env has none: run \`npm run stack:up\``);
  return { dialect, url };
}

/** The accounts table every test and the bench use: a text key, a few attributes, enabled, updated_at. */
export function accountsTableSql(dialect: SqlDialect, table: string): string[] {
  if (dialect === 'postgres') {
    return [
      `CREATE TABLE "${table}" (user_name text PRIMARY KEY, display_name text, description text, email text UNIQUE, age integer CHECK (age >= 0),
        enabled boolean NOT NULL DEFAULT true, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`,
      `CREATE INDEX "${table}_updated" ON "${table}" (updated_at, user_name)`,
    ];
  }
  return [
    `CREATE TABLE \`${table}\` (user_name VARCHAR(255) COLLATE utf8mb4_bin PRIMARY KEY, display_name TEXT, description TEXT, email VARCHAR(255) UNIQUE,
      age INT CHECK (age >= 0), enabled BOOLEAN NOT NULL DEFAULT TRUE, updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
      INDEX \`${table}_updated\` (updated_at, user_name)) CHARACTER SET utf8mb4`,
  ];
}

/** Runs statements on the target database with a connection of its own. */
export async function execute(target: SqlTarget, statements: string[], params: unknown[][] = []): Promise<void> {
  if (target.dialect === 'postgres') {
    const client = new Client({ connectionString: target.url });
    await client.connect();
    try {
      for (const [i, sql] of statements.entries()) await client.query(sql, params[i] ?? []);
    } finally {
      await client.end();
    }
    return;
  }
  const connection = await createConnection({ uri: target.url, timezone: 'Z' });
  try {
    for (const [i, sql] of statements.entries()) await connection.query(sql, params[i] ?? []);
  } finally {
    await connection.end();
  }
}

export const randomTable = (label: string) => `${label}_${randomBytes(5).toString('hex')}`;

export async function createAccountsTable(target: SqlTarget, label: string): Promise<string> {
  const table = randomTable(label);
  await execute(target, accountsTableSql(target.dialect, table));
  return table;
}

export async function dropTable(target: SqlTarget, table: string): Promise<void> {
  await execute(target, [target.dialect === 'postgres' ? `DROP TABLE IF EXISTS "${table}"` : `DROP TABLE IF EXISTS \`${table}\``]);
}

/** A connector config for the accounts table `table`, plus the credentials (from the URL). */
export function sqlTargetConfig(target: SqlTarget, table: string, overrides: Record<string, unknown> = {}): { config: SqlConfig; credentials: SqlCredentials } {
  const url = new URL(target.url);
  const config = sqlConfigSchema.parse({
    dialect: target.dialect,
    host: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    database: decodeURIComponent(url.pathname.slice(1)),
    user: decodeURIComponent(url.username) || (target.dialect === 'postgres' ? 'postgres' : 'root'),
    accounts: {
      table,
      keyColumn: 'user_name',
      columns: { userName: 'user_name', displayName: 'display_name', description: 'description', email: 'email', age: 'age' },
      updatedAtColumn: 'updated_at',
      enabled: { column: 'enabled' },
    },
    ...overrides,
  });
  return { config, credentials: { password: decodeURIComponent(url.password) } };
}

/** Inserts rows `user_name = <prefix><i>` in multi-row statements, without the connector. */
export async function seedRows(target: SqlTarget, table: string, prefix: string, count: number): Promise<void> {
  const statements: string[] = [];
  const params: unknown[][] = [];
  for (let start = 0; start < count; start += 1000) {
    const n = Math.min(1000, count - start);
    const values = Array.from({ length: n }, (_, i) => (target.dialect === 'postgres' ? `($${2 * i + 1}, $${2 * i + 2})` : '(?, ?)'));
    statements.push(
      target.dialect === 'postgres'
        ? `INSERT INTO "${table}" (user_name, display_name) VALUES ${values.join(', ')}`
        : `INSERT INTO \`${table}\` (user_name, display_name) VALUES ${values.join(', ')}`,
    );
    params.push(Array.from({ length: n }, (_, i) => [`${prefix}${start + i}`, 'Seeded']).flat());
  }
  await execute(target, statements, params);
}

/**
 * A TCP proxy to the database that can hold every chunk back by `delayMs` (in order), for the contract's
 * latency case: a database cannot be told to answer slowly to one client only.
 */
export async function startDelayProxy(target: SqlTarget): Promise<{ port: number; setDelay(ms: number): void; close(): Promise<void> }> {
  const { createServer, connect } = await import('node:net');
  const url = new URL(target.url);
  const upstream = { host: url.hostname, port: Number(url.port || (target.dialect === 'postgres' ? 5432 : 3306)) };
  let delayMs = 0;
  const sockets = new Set<import('node:net').Socket>();
  const relay = (from: import('node:net').Socket, to: import('node:net').Socket) => {
    let chain = Promise.resolve();
    from.on('data', (chunk) => {
      const wait = delayMs;
      chain = chain.then(() => (wait > 0 ? new Promise((resolve) => setTimeout(resolve, wait)) : undefined)).then(() => {
        if (!to.destroyed) to.write(chunk);
      });
    });
    from.on('close', () => void chain.then(() => to.destroy()));
    from.on('error', () => to.destroy());
  };
  const server = createServer((client) => {
    const server = connect(upstream);
    sockets.add(client).add(server);
    client.on('close', () => sockets.delete(client));
    server.on('close', () => sockets.delete(server));
    relay(client, server);
    relay(server, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    setDelay: (ms) => (delayMs = ms),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
