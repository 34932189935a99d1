import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { DataSource, EntityManager, QueryRunner } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { ensureTenant, resolveActor } from '@provisio/persistence';
import { OutboxEntry, OutboxService, Principal } from '@provisio/platform';

/**
 * Tenant scope the data access layer cannot forget. Every statement of the registry goes through
 * `TenantScoped.query`, which binds the caller's tenant id as `$1` and refuses (a programming error,
 * answered 500 and caught by any test that runs the statement) SQL that does not use `$1` as its tenant:
 *
 *  - `SELECT`, `UPDATE`, `DELETE` (and CTEs) must contain `tenant_id = $1` (any alias: `s.tenant_id = $1`);
 *  - `INSERT` must name `tenant_id` as its first column and bind it to `$1` (`VALUES ($1, …` or `SELECT $1, …`).
 *
 * A service never sees a connection or an EntityManager, only a `TenantScoped` (reads) or a
 * `TenantTransaction` (writes), both made from the caller's `Principal` by `TenantDatabase`.
 */
const TENANT_FILTER = /\btenant_id\s*=\s*\$1(?!\d)/i;
const TENANT_INSERT = /^\s*INSERT\s+INTO\s+[\w."]+\s*\(\s*tenant_id\s*[,)][\s\S]*?\b(?:VALUES\s*\(\s*\$1(?!\d)|SELECT\s+\$1(?!\d))/i;

export class UnscopedQueryError extends Error {
  constructor(sql: string) {
    super(`query is not scoped to the tenant ($1): ${sql.replace(/\s+/g, ' ').slice(0, 200)}`);
    this.name = 'UnscopedQueryError';
  }
}

export function assertTenantScoped(sql: string): void {
  if (/^\s*INSERT\b/i.test(sql) ? !TENANT_INSERT.test(sql) : !TENANT_FILTER.test(sql)) throw new UnscopedQueryError(sql);
}

const statementNames = new Map<string, string>();
/** Reads are named prepared statements (parsed once per connection); the name is a digest of the SQL. */
function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (!name) {
    name = `sr_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`;
    if (statementNames.size < 1000) statementNames.set(sql, name);
  }
  return name;
}

/** Runs one statement; `rows` also for `UPDATE … RETURNING` (TypeORM's plain `query` wraps those). */
type Run = (sql: string, params: unknown[]) => Promise<{ rows: unknown[]; rowCount: number }>;

async function runOn(runner: QueryRunner, sql: string, params: unknown[]): Promise<{ rows: unknown[]; rowCount: number }> {
  const result = await runner.query(sql, params, true);
  return { rows: result.records ?? [], rowCount: result.affected ?? 0 };
}

/** Reads (and, in a transaction, writes) of one tenant. */
export class TenantScoped {
  constructor(
    readonly tenantId: string,
    private readonly run: Run,
  ) {}

  /** Rows of a statement whose `$1` is the tenant id; `params` are `$2`, `$3`, … */
  async query<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    assertTenantScoped(sql);
    return (await this.run(sql, [this.tenantId, ...params])).rows as T[];
  }

  async one<T>(sql: string, params: readonly unknown[] = []): Promise<T | undefined> {
    return (await this.query<T>(sql, params))[0];
  }

  /** Rows affected by an `UPDATE` or `DELETE` without `RETURNING`. */
  async execute(sql: string, params: readonly unknown[] = []): Promise<number> {
    assertTenantScoped(sql);
    return (await this.run(sql, [this.tenantId, ...params])).rowCount;
  }
}

/** A write transaction of one tenant, with the caller resolved to its `users` row. */
export class TenantTransaction extends TenantScoped {
  constructor(
    tenantId: string,
    run: Run,
    /** The caller's JWT `sub`: what `audit_events.actor_id` records and what responses show. */
    readonly subject: string,
    /** The caller's `users.id`: what `created_by` / `updated_by` columns store. */
    readonly actorId: number,
    /** The tenant's default organization (seed 001's `scripts.organization_id`). */
    readonly organizationId: string,
    private readonly manager: EntityManager,
    private readonly outbox: OutboxService,
  ) {
    super(tenantId, run);
  }

  /** Adds events to the outbox in this transaction; they are published if and only if it commits. */
  async publish(entries: OutboxEntry | OutboxEntry[]): Promise<void> {
    const list = Array.isArray(entries) ? entries : [entries];
    for (const entry of list) this.checkEvent(entry);
    await this.outbox.enqueue(this.manager, list);
  }

  /**
   * Runs one data-modifying statement with RETURNING (tenant-scoped like `query`) and adds `entry` to the
   * outbox in the SAME statement (`OutboxService.enqueueAfter`): one round trip instead of two.
   */
  async executeAndPublish(sql: string, params: readonly unknown[], entry: OutboxEntry): Promise<void> {
    assertTenantScoped(sql);
    this.checkEvent(entry);
    await this.outbox.enqueueAfter(this.manager, sql, [this.tenantId, ...params], entry);
  }

  private checkEvent(entry: OutboxEntry): void {
    if (entry.event.tenantid !== this.tenantId) throw new UnscopedQueryError(`outbox event for tenant ${entry.event.tenantid}`);
  }
}

/**
 * The registry's only way to the database: `read(principal)` for queries, `write(principal, work)` for
 * one transaction in which the tenant, its default organization and the caller's `users` row exist
 * (`ensureTenant` / `resolveActor`, only when missing; ids of rows seen to exist are remembered, which
 * saves a round trip per write). A failure anywhere in `work` rolls everything back.
 */
interface CallerRows {
  organizationId: string;
  actorId: number;
}

const MAX_CACHED_CALLERS = 10_000;

@Injectable()
export class TenantDatabase {
  /** (tenant, subject) → ids of rows that existed when last looked up. */
  private readonly actors = new Map<string, CallerRows>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: OutboxService,
  ) {}

  /**
   * Reads go straight to the pool of TypeORM's PostgreSQL driver (the same connections, settings and
   * type parsing): a read needs no transaction, and skipping the QueryRunner per statement is a third
   * of the CPU of a simple GET.
   */
  read(principal: Pick<Principal, 'tenantId'>): TenantScoped {
    const pool = (this.dataSource.driver as PostgresDriver).master as { query(config: { name?: string; text: string; values: unknown[] }): Promise<{ rows: unknown[]; rowCount: number | null }> };
    return new TenantScoped(principal.tenantId, async (sql, params) => {
      const result = await pool.query({ name: statementName(sql), text: sql, values: params });
      return { rows: result.rows, rowCount: result.rowCount ?? 0 };
    });
  }

  async write<T>(principal: Principal, work: (tx: TenantTransaction) => Promise<T>): Promise<T> {
    const key = `${principal.tenantId}\u0000${principal.subject}`;
    try {
      return await this.dataSource.transaction(async (manager) => {
        const runner = manager.queryRunner!;
        const { organizationId, actorId } = this.actors.get(key) ?? (await this.resolve(runner, principal, key));
        const tx = new TenantTransaction(principal.tenantId, (sql, params) => runOn(runner, sql, params), principal.subject, actorId, organizationId, manager, this.outbox);
        return work(tx);
      });
    } catch (error) {
      // A foreign key violation may mean a cached tenant or user row is gone: look it up again next time.
      if ((error as { driverError?: { code?: string } }).driverError?.code === '23503') this.actors.delete(key);
      throw error;
    }
  }

  /**
   * Tenant, default organization and user rows of a caller, created when missing, inside the caller's
   * transaction (so a write that fails leaves none behind). Ids of rows that already existed are
   * remembered (they never change); rows created here are not, as they exist only if this commits.
   */
  private async resolve(runner: QueryRunner, principal: Principal, key: string): Promise<CallerRows> {
    const raw = { query: (sql: string, params?: unknown[]) => runner.query(sql, params) };
    const [known] = (await raw.query(
      `SELECT o.id AS organization_id, u.id AS actor_id
         FROM organizations o LEFT JOIN users u ON u.tenant_id = o.tenant_id AND u.subject = $2
        WHERE o.tenant_id = $1 AND o.is_default`,
      [principal.tenantId, principal.subject],
    )) as { organization_id: string; actor_id: number | null }[];
    if (known?.actor_id != null) {
      const rows = { organizationId: known.organization_id, actorId: known.actor_id };
      if (this.actors.size >= MAX_CACHED_CALLERS) this.actors.clear();
      this.actors.set(key, rows);
      return rows;
    }
    // Not cached: created in this transaction, they do not exist unless it commits.
    const organizationId = known?.organization_id ?? (await ensureTenant(raw, principal.tenantId));
    return { organizationId, actorId: await resolveActor(raw, principal.tenantId, principal.subject) };
  }
}
