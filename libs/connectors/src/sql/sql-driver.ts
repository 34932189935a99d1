/**
 * The two databases behind one small interface: pooled connections (pg.Pool, mysql2 pool), queries with
 * bound parameters only, transactions, identifier quoting and placeholders. Statements are built by the
 * connector; nothing here concatenates a value into SQL.
 */
import { createPool, Pool as MariadbPool, PoolConnection, ResultSetHeader } from 'mysql2/promise';
import { Pool as PgPool, PoolClient } from 'pg';
import { ConnectorError, ConnectorErrorCode } from '../connector-errors';
import { IDENTIFIER, SqlConfig, SqlCredentials } from './sql-config';

export type Row = Record<string, unknown>;

export interface QueryResult {
  rows: Row[];
  /** Rows the statement changed (or returned, for a SELECT). */
  rowCount: number;
}

export interface SqlSession {
  query(sql: string, params?: unknown[]): Promise<QueryResult>;
}

export interface SqlDriver extends SqlSession {
  readonly dialect: SqlConfig['dialect'];
  /** `"name"` / `` `name` ``, for identifiers already checked against IDENTIFIER. */
  quote(identifier: string): string;
  /** The placeholder of the `index`th (1-based) parameter: `$1` / `?`. */
  placeholder(index: number): string;
  transaction<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export function checkIdentifier(name: string): string {
  if (!IDENTIFIER.test(name)) throw new ConnectorError(ConnectorErrorCode.InvalidConfig, `'${name.slice(0, 80)}' is not a plain SQL identifier`);
  return name;
}

/** Parameters of one statement: `add` binds a value and returns its placeholder. */
export class Params {
  readonly values: unknown[] = [];
  constructor(private readonly driver: SqlDriver) {}
  add(value: unknown): string {
    this.values.push(value);
    return this.driver.placeholder(this.values.length);
  }
}

export function createDriver(config: SqlConfig, credentials: SqlCredentials): SqlDriver {
  return config.dialect === 'postgres' ? new PostgresDriver(config, credentials) : new MariadbDriver(config, credentials);
}

const tlsOf = (config: SqlConfig) =>
  config.tls.enabled ? { ca: config.tls.ca ? [config.tls.ca] : undefined, rejectUnauthorized: config.tls.rejectUnauthorized } : undefined;

class PostgresDriver implements SqlDriver {
  readonly dialect = 'postgres' as const;
  private readonly pool: PgPool;

  constructor(config: SqlConfig, credentials: SqlCredentials) {
    this.pool = new PgPool({
      host: config.host,
      port: config.port ?? 5432,
      database: config.database,
      user: config.user,
      password: credentials.password,
      ssl: tlsOf(config),
      max: config.limits.maxConnections,
      connectionTimeoutMillis: Math.min(config.limits.timeoutMs, 10_000),
      idleTimeoutMillis: 30_000,
      // Every session: UTC, and a write waits at most lockTimeoutMs for a row lock (55P03 → LockTimeout).
      options: `-c TimeZone=UTC -c lock_timeout=${config.lockTimeoutMs} -c statement_timeout=${config.limits.timeoutMs}`,
      application_name: 'provisio-connector',
    });
    // An idle connection the server dropped: the pool discards it; the next query gets a fresh one.
    this.pool.on('error', () => undefined);
  }

  quote(identifier: string): string {
    return `"${checkIdentifier(identifier)}"`;
  }

  placeholder(index: number): string {
    return `$${index}`;
  }

  async query(sql: string, params: unknown[] = []): Promise<QueryResult> {
    const result = await this.pool.query(sql, params);
    return { rows: result.rows as Row[], rowCount: result.rowCount ?? result.rows.length };
  }

  async transaction<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    const client: PoolClient = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn({
        query: async (sql, params = []) => {
          const r = await client.query(sql, params);
          return { rows: r.rows as Row[], rowCount: r.rowCount ?? r.rows.length };
        },
      });
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    // a connection still failing to connect rejects end() with its own error: closing goes on regardless
    await this.pool.end().catch(() => undefined);
  }
}

class MariadbDriver implements SqlDriver {
  readonly dialect = 'mariadb' as const;
  private readonly pool: MariadbPool;

  constructor(config: SqlConfig, credentials: SqlCredentials) {
    this.pool = createPool({
      host: config.host,
      port: config.port ?? 3306,
      database: config.database,
      user: config.user,
      password: credentials.password,
      ssl: tlsOf(config),
      connectionLimit: config.limits.maxConnections,
      connectTimeout: Math.min(config.limits.timeoutMs, 10_000),
      timezone: 'Z',
      charset: 'utf8mb4',
      supportBigNumbers: true,
      bigNumberStrings: true,
    });
    const lockSeconds = Math.max(1, Math.ceil(config.lockTimeoutMs / 1000));
    // Every session: UTC, strict mode (a bad value is an error, never a silent truncation), the lock wait.
    this.pool.pool.on('connection', (connection) => {
      connection.query(`SET time_zone = '+00:00', sql_mode = CONCAT(@@sql_mode, ',STRICT_ALL_TABLES'), innodb_lock_wait_timeout = ${lockSeconds}`);
    });
  }

  quote(identifier: string): string {
    return `\`${checkIdentifier(identifier)}\``;
  }

  placeholder(): string {
    return '?';
  }

  async query(sql: string, params: unknown[] = []): Promise<QueryResult> {
    return toResult(await this.pool.query(sql, params));
  }

  async transaction<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    const connection: PoolConnection = await this.pool.getConnection();
    try {
      await connection.beginTransaction();
      const result = await fn({ query: async (sql, params = []) => toResult(await connection.query(sql, params)) });
      await connection.commit();
      return result;
    } catch (error) {
      await connection.rollback().catch(() => undefined);
      throw error;
    } finally {
      connection.release();
    }
  }

  async close(): Promise<void> {
    // a connection still failing to connect rejects end() with its own error: closing goes on regardless
    await this.pool.end().catch(() => undefined);
  }
}

function toResult([result]: [unknown, unknown]): QueryResult {
  if (Array.isArray(result)) return { rows: result as Row[], rowCount: result.length };
  const header = result as ResultSetHeader;
  return { rows: [], rowCount: header.affectedRows };
}
