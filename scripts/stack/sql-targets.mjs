// The SQL target databases: a `provisio_targets` database on the stack's PostgreSQL and one on the machine's
// MariaDB, kept apart from Provisio's own databases. The SQL connector's tests and bench create their tables
// there (random names, dropped after). SQL_TARGET_PG_URL / SQL_TARGET_MARIADB_URL name other databases.
import { redact, requireDependency } from './util.mjs';

export const DATABASE = 'provisio_targets';
export const DEFAULT_MARIADB_URL = `mysql://root@127.0.0.1:3306/${DATABASE}`;

const databaseOf = (url) => decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
const checkName = (name, variable) => {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name)) throw new Error(`${variable} must name a database of letters, digits and _, got '${name}'`);
  return name;
};

async function ensurePostgres(url) {
  const { Client } = requireDependency('pg');
  const name = checkName(databaseOf(url), 'SQL_TARGET_PG_URL');
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE "${name}"`).catch((error) => {
        if (error.code !== '42P04') throw error; // created meanwhile by another process
      });
    }
  } finally {
    await client.end();
  }
}

async function ensureMariadb(url) {
  const mysql = requireDependency('mysql2/promise');
  const name = checkName(databaseOf(url), 'SQL_TARGET_MARIADB_URL');
  const admin = new URL(url);
  admin.pathname = '/';
  const connection = await mysql.createConnection({ uri: admin.toString(), connectTimeout: 5000 });
  try {
    await connection.query(`CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  } finally {
    await connection.end();
  }
}

/**
 * Creates the target databases. `databaseUrl` is Provisio's PostgreSQL URL (the stack's): the target database
 * lives on the same server. A MariaDB that does not answer is reported, not fatal: only the MariaDB suites need it.
 * Returns { pgUrl, mariadbUrl, mariadbError }.
 */
export async function up({ env, log, databaseUrl }) {
  let pgUrl = env.SQL_TARGET_PG_URL;
  if (!pgUrl) {
    const derived = new URL(databaseUrl);
    derived.pathname = `/${DATABASE}`;
    pgUrl = derived.toString();
  }
  await ensurePostgres(pgUrl);
  const mariadbUrl = env.SQL_TARGET_MARIADB_URL || DEFAULT_MARIADB_URL;
  try {
    await ensureMariadb(mariadbUrl);
    return { pgUrl, mariadbUrl, mariadbError: null };
  } catch (error) {
    log(`MariaDB target database not available at ${redact(mariadbUrl)} (${error.message}): the MariaDB connector suites will fail`);
    return { pgUrl, mariadbUrl: '', mariadbError: error.message };
  }
}

/** Whether each target database answers (nothing is created). */
export async function status({ env, databaseUrl }) {
  const pgUrl = env.SQL_TARGET_PG_URL || (databaseUrl ? Object.assign(new URL(databaseUrl), { pathname: `/${DATABASE}` }).toString() : '');
  const mariadbUrl = env.SQL_TARGET_MARIADB_URL || DEFAULT_MARIADB_URL;
  const pgUp = async () => {
    const { Client } = requireDependency('pg');
    const client = new Client({ connectionString: pgUrl, connectionTimeoutMillis: 3000 });
    await client.connect();
    await client.end();
  };
  const mariadbUp = async () => {
    const connection = await requireDependency('mysql2/promise').createConnection({ uri: mariadbUrl, connectTimeout: 3000 });
    await connection.end();
  };
  const answers = (probe) => probe().then(() => true, () => false);
  return [
    { name: 'sql-pg', url: redact(pgUrl), up: pgUrl ? await answers(pgUp) : false, managed: false, detail: 'SQL target database' },
    { name: 'sql-maria', url: redact(mariadbUrl), up: await answers(mariadbUp), managed: false, detail: 'SQL target database' },
  ];
}
