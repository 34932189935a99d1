import type { EntityManager, QueryRunner } from 'typeorm';
import type { CloudEvent } from '@provisio/contracts';

/**
 * Statements of one tenant, checked. Every statement goes through `TenantScoped.query`, which binds the
 * tenant id as `$1` and refuses (a programming error, caught by any test that runs the statement) SQL that
 * does not use `$1` as its tenant:
 *
 *  - `SELECT`, `UPDATE`, `DELETE` (and CTEs) must contain `tenant_id = $1` (any alias: `s.tenant_id = $1`);
 *  - `INSERT` must name `tenant_id` as its first column and bind it to `$1` (`VALUES ($1, …` or `SELECT $1, …`).
 *
 * Work that is deliberately about every tenant (sweeps, relays, firing loops) uses `CrossTenant`, which
 * carries the reason in its name and in the code that makes one: it cannot be mistaken for a forgotten filter.
 */
const TENANT_FILTER = /\btenant_id\s*=\s*\$1(?!\d)/i;
/** A statement whose first CTE is its INSERT (`WITH audited AS (INSERT …), announced AS (…) SELECT …`) is checked as that INSERT. */
const LEADING_CTE = String.raw`(?:WITH\s+\w+\s+AS\s*\(\s*)?`;
const TENANT_INSERT = new RegExp(String.raw`^\s*${LEADING_CTE}INSERT\s+INTO\s+[\w."]+\s*\(\s*tenant_id\s*[,)][\s\S]*?\b(?:VALUES\s*\(\s*\$1(?!\d)|SELECT\s+\$1(?!\d))`, 'i');
const IS_INSERT = new RegExp(String.raw`^\s*${LEADING_CTE}INSERT\b`, 'i');

export class UnscopedQueryError extends Error {
  constructor(sql: string) {
    super(`query is not scoped to the tenant ($1): ${sql.replace(/\s+/g, ' ').slice(0, 200)}`);
    this.name = 'UnscopedQueryError';
  }
}

export function assertTenantScoped(sql: string): void {
  if (IS_INSERT.test(sql) ? !TENANT_INSERT.test(sql) : !TENANT_FILTER.test(sql)) throw new UnscopedQueryError(sql);
}

/** Runs one statement; `rows` also for `UPDATE … RETURNING` (TypeORM's plain `query` wraps those). */
export type Run = (sql: string, params: unknown[]) => Promise<{ rows: unknown[]; rowCount: number }>;

export async function runOn(runner: QueryRunner, sql: string, params: unknown[]): Promise<{ rows: unknown[]; rowCount: number }> {
  const result = await runner.query(sql, params, true);
  return { rows: result.records ?? [], rowCount: result.affected ?? 0 };
}

/** `runOn` the query runner of a transaction a caller already has (a Kafka consumer's, a hook run's). */
export function runIn(manager: EntityManager): Run {
  const runner = manager.queryRunner;
  if (!runner) throw new Error('the EntityManager is not in a transaction (no query runner)');
  return (sql, params) => runOn(runner, sql, params);
}

/**
 * An event for the outbox: `@provisio/platform`'s `OutboxEntry` (this lib cannot import the platform,
 * which imports it).
 */
export interface OutboxEntryLike {
  /** Topic base name from `Topic`. */
  topic: string;
  key: string;
  event: CloudEvent;
}

/** What a transaction needs of the outbox (`OutboxService` of `@provisio/platform` is one). */
export interface TenantOutbox {
  enqueue(manager: EntityManager, entries: OutboxEntryLike | OutboxEntryLike[]): Promise<void>;
  /** The outbox's CTE for another statement's WITH list: `entry` written if that statement's CTE `rows` returned a row. */
  announceIfAny(rows: string, entry: OutboxEntryLike, firstParam: number): { cte: string; params: unknown[] };
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

/** A transaction of one tenant: its statements, and events that are published if and only if it commits. */
export class TenantTransaction extends TenantScoped {
  constructor(
    tenantId: string,
    run: Run,
    /** The transaction's manager, for a lib that takes one (never for SQL of its own: use `query`). */
    readonly manager: EntityManager,
    private readonly outbox: TenantOutbox,
  ) {
    super(tenantId, run);
  }

  /** Adds events of this tenant to the outbox in this transaction. */
  async publish<E extends OutboxEntryLike>(entries: E | E[]): Promise<void> {
    const list = Array.isArray(entries) ? entries : [entries];
    for (const entry of list) this.checkEvent(entry);
    if (list.length) await this.outbox.enqueue(this.manager, list);
  }

  /**
   * The outbox's part of a statement of this tenant, so that a change and its announcement are one
   * round trip: a CTE (`announced`) for the statement's WITH list that writes `entry` (checked to be this
   * tenant's) if the statement's CTE `rows` returned a row. `firstParam` is the statement's first free
   * parameter (the tenant is `$1`, `query`'s params `$2` …); pass the part's params after the others.
   */
  announceIfAny(rows: string, entry: OutboxEntryLike, firstParam: number): { cte: string; params: unknown[] } {
    this.checkEvent(entry);
    return this.outbox.announceIfAny(rows, entry, firstParam);
  }

  private checkEvent(entry: OutboxEntryLike): void {
    if (entry.event.tenantid !== this.tenantId) throw new UnscopedQueryError(`outbox event for tenant ${entry.event.tenantid}`);
  }
}

/** An API caller's write transaction: the tenant's transaction, with the caller resolved to its `users` row. */
export class CallerTransaction extends TenantTransaction {
  constructor(
    tenantId: string,
    run: Run,
    manager: EntityManager,
    outbox: TenantOutbox,
    /** The caller's JWT `sub`: what `audit_events.actor_id` records and what responses show. */
    readonly subject: string,
    /** The caller's `users.id`: what `created_by` / `updated_by` columns store. */
    readonly actorId: number,
    /** The tenant's default organization (seed 001's `scripts.organization_id`). */
    readonly organizationId: string,
  ) {
    super(tenantId, run, manager, outbox);
  }
}

/**
 * Statements that are deliberately about every tenant: sweeps, relays, firing loops. No tenant is bound
 * and nothing is checked; `reason` says why the work spans tenants (it is shown in errors and makes the
 * call site say so). Rows it returns carry their `tenant_id`; `tenant(id)` turns to one of them inside the
 * same transaction, checked again.
 */
export class CrossTenant {
  constructor(
    readonly reason: string,
    private readonly run: Run,
    private readonly transaction?: { manager: EntityManager; outbox: TenantOutbox },
  ) {
    if (!reason.trim()) throw new Error('a cross-tenant query must say why it spans tenants');
  }

  async query<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return (await this.run(sql, [...params])).rows as T[];
  }

  async one<T>(sql: string, params: readonly unknown[] = []): Promise<T | undefined> {
    return (await this.query<T>(sql, params))[0];
  }

  async execute(sql: string, params: readonly unknown[] = []): Promise<number> {
    return (await this.run(sql, [...params])).rowCount;
  }

  /** One tenant's statements (and events) in this same transaction, tenant-checked again. */
  tenant(tenantId: string): TenantTransaction {
    const { manager, outbox } = this.inTransaction('tenant()');
    return new TenantTransaction(tenantId, this.run, manager, outbox);
  }

  /** Events of any tenants, in this transaction (each keyed and stamped with its own tenant). */
  async publish<E extends OutboxEntryLike>(entries: E[]): Promise<void> {
    const { manager, outbox } = this.inTransaction('publish()');
    if (entries.length) await outbox.enqueue(manager, entries);
  }

  private inTransaction(what: string): { manager: EntityManager; outbox: TenantOutbox } {
    if (!this.transaction) throw new Error(`${what} needs a transaction: use TenantDatabase.allTenantsTransaction (${this.reason})`);
    return this.transaction;
  }
}
