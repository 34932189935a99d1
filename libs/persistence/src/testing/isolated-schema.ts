import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { DataSource, MixedList } from 'typeorm';
import { createDataSourceOptions } from '../data-source';

export interface IsolatedSchema {
  /** Initialised, migrated, with `search_path` set to `schema`. */
  dataSource: DataSource;
  /** e.g. `t_3f9a0c1d2e4b5a69`: pass it as DATABASE_SCHEMA to an app or child process under test. */
  schema: string;
  /** The database URL (from DATABASE_URL). */
  url: string;
  /** Closes the data source and drops the schema with everything in it. */
  drop(): Promise<void>;
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: integration tests need PostgreSQL (npm test starts it)');
  return url;
}

async function withClient<T>(connectionString: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Creates the database of `url` if it does not exist (via the `postgres` maintenance database). */
export async function ensureTestDatabase(url: string): Promise<void> {
  const parsed = new URL(url);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  parsed.pathname = '/postgres';
  await withClient(parsed.toString(), async (client) => {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rowCount) return;
    await client.query(`CREATE DATABASE ${quoteIdent(database)}`).catch((error: { code?: string }) => {
      if (error.code !== '42P04' && error.code !== '23505') throw error; // created concurrently
    });
  });
}

/**
 * A fresh schema with every migration applied, in the database at DATABASE_URL: each integration suite
 * gets its own, so suites run in parallel without seeing each other's rows.
 */
export async function createIsolatedSchema(
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations: MixedList<Function | string>,
  { poolSize = 5 }: { poolSize?: number } = {},
): Promise<IsolatedSchema> {
  const url = databaseUrl();
  await ensureTestDatabase(url);
  const schema = `t_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  await withClient(url, (client) => client.query(`CREATE SCHEMA ${quoteIdent(schema)}`));
  const dataSource = new DataSource({ ...createDataSourceOptions({ url, schema, migrations, poolSize }), migrationsTransactionMode: 'all' });
  const drop = async () => {
    if (dataSource.isInitialized) await dataSource.destroy();
    await withClient(url, (client) => client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`));
  };
  try {
    await dataSource.initialize();
    await dataSource.runMigrations();
  } catch (error) {
    await drop().catch(() => undefined);
    throw error;
  }
  return { dataSource, schema, url, drop };
}
