/**
 * `node migrations/dist/cli.js run | revert [--all] | show`
 *
 * Environment: DATABASE_URL (required), DATABASE_SCHEMA (default `public`).
 *  - run     creates the database (through the `postgres` maintenance database) and the schema when
 *            missing, then applies every pending migration, each in its own transaction, logging each.
 *  - revert  undoes the last applied migration; `--all` undoes every one.
 *  - show    lists the migrations, `[X]` applied, `[ ]` pending.
 * Runs of the same schema are serialised with an advisory lock, so two Jobs cannot interleave.
 * Exits non-zero with a one-line reason on failure.
 */
import { Client } from 'pg';
import { DataSource, Logger, MigrationExecutor } from 'typeorm';
import { MIGRATIONS_TABLE_NAME, migrations } from './index';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]*$/;
const USAGE = 'usage: node migrations/dist/cli.js run | revert [--all] | show';

class CliError extends Error {}

function say(message: string): void {
  process.stdout.write(`[migrations] ${message}\n`);
}

/** Prints TypeORM's migration progress, nothing else (no SQL). */
class ProgressLogger implements Logger {
  logQuery(): void {}
  logQueryError(): void {}
  logQuerySlow(): void {}
  log(): void {}
  logSchemaBuild(message: string): void {
    if (/executed successfully|reverted successfully|No migrations are pending|Nothing to revert/.test(message)) say(message);
  }
  logMigration(message: string): void {
    say(message);
  }
}

interface Target {
  url: string;
  database: string;
  schema: string;
  /** For messages: the URL without credentials. */
  display: string;
}

export function readTarget(env: NodeJS.ProcessEnv): Target {
  const url = env.DATABASE_URL;
  if (!url) throw new CliError('DATABASE_URL is not set (e.g. postgres://user:password@host:5432/provisio)');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError('DATABASE_URL is not a valid URL');
  }
  if (!/^postgres(ql)?:$/.test(parsed.protocol)) throw new CliError('DATABASE_URL must be a postgres:// URL');
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!database) throw new CliError('DATABASE_URL names no database (postgres://host:5432/<database>)');
  const schema = env.DATABASE_SCHEMA || 'public';
  if (!SCHEMA_NAME.test(schema)) throw new CliError(`DATABASE_SCHEMA "${schema}" must match ${SCHEMA_NAME}`);
  return { url, database, schema, display: `${parsed.hostname}:${parsed.port || 5432}/${database} schema ${schema}` };
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Creates the database when it does not exist, connecting to the `postgres` maintenance database. */
export async function ensureDatabase(url: string): Promise<boolean> {
  const parsed = new URL(url);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  parsed.pathname = '/postgres';
  const client = new Client({ connectionString: parsed.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rowCount) return false;
    try {
      await client.query(`CREATE DATABASE ${quoteIdent(database)}`);
      return true;
    } catch (error) {
      // Someone else created it between the check and the CREATE.
      if ((error as { code?: string }).code === '42P04' || (error as { code?: string }).code === '23505') return false;
      throw error;
    }
  } finally {
    await client.end();
  }
}

async function withLock<T>(target: Target, createSchema: boolean, work: (schemaExists: boolean) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: target.url });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [`provisio.migrations.${target.schema}`]);
    if (createSchema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(target.schema)}`);
    const { rowCount } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [target.schema]);
    return await work(rowCount === 1);
  } finally {
    await client.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
    await client.end();
  }
}

function dataSourceFor(target: Target): DataSource {
  return new DataSource({
    type: 'postgres',
    url: target.url,
    migrations,
    migrationsTableName: MIGRATIONS_TABLE_NAME,
    migrationsTransactionMode: 'each',
    logger: new ProgressLogger(),
    poolSize: 2,
    extra: { options: `-c search_path=${target.schema}` },
  });
}

async function withDataSource<T>(target: Target, work: (ds: DataSource) => Promise<T>): Promise<T> {
  const ds = dataSourceFor(target);
  await ds.initialize();
  try {
    return await work(ds);
  } finally {
    await ds.destroy();
  }
}

async function run(target: Target): Promise<void> {
  if (await ensureDatabase(target.url)) say(`created database ${target.database}`);
  await withLock(target, true, () =>
    withDataSource(target, async (ds) => {
      const applied = await ds.runMigrations({ transaction: 'each' });
      say(applied.length ? `${applied.length} migration(s) applied to ${target.display}` : `${target.display} is up to date`);
    }),
  );
}

async function revert(target: Target, all: boolean): Promise<void> {
  await withLock(target, false, async (schemaExists) => {
    if (!schemaExists) return say(`schema ${target.schema} does not exist: nothing to revert`);
    await withDataSource(target, async (ds) => {
      const executor = new MigrationExecutor(ds);
      let reverted = 0;
      do {
        const executed = await executor.getExecutedMigrations();
        if (executed.length === 0) break;
        await ds.undoLastMigration({ transaction: 'each' });
        reverted++;
      } while (all);
      say(reverted ? `${reverted} migration(s) reverted on ${target.display}` : 'nothing to revert');
    });
  });
}

async function show(target: Target): Promise<void> {
  await withLock(target, false, async (schemaExists) => {
    let executed = new Set<string>();
    if (schemaExists) {
      executed = await withDataSource(target, async (ds) => {
        const exists = await ds.query('SELECT to_regclass($1) AS t', [`${target.schema}.${MIGRATIONS_TABLE_NAME}`]);
        if (!exists[0].t) return new Set<string>();
        const rows: { name: string }[] = await ds.query(`SELECT name FROM ${quoteIdent(MIGRATIONS_TABLE_NAME)}`);
        return new Set(rows.map((r) => r.name));
      });
    }
    say(target.display);
    for (const migration of migrations) {
      const name = new migration().name;
      say(`${executed.has(name) ? '[X]' : '[ ]'} ${name}`);
    }
  });
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [command, ...flags] = argv;
  try {
    const unknown = flags.filter((f) => !(command === 'revert' && f === '--all'));
    if (!['run', 'revert', 'show'].includes(command ?? '') || unknown.length) throw new CliError(USAGE);
    const target = readTarget(env);
    if (command === 'run') await run(target);
    else if (command === 'revert') await revert(target, flags.includes('--all'));
    else await show(target);
    return 0;
  } catch (error) {
    const e = error as Error & { code?: string; detail?: string; where?: string };
    const reason = e instanceof CliError ? e.message : `${e.message}${e.code ? ` (${e.code})` : ''}${e.detail ? `; ${e.detail}` : ''}`;
    process.stderr.write(`[migrations] ${command ?? ''} failed: ${reason}\n`);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2), process.env).then((code) => process.exit(code));
}
