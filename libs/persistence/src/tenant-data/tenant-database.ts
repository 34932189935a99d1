import { createHash } from 'node:crypto';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { ensureTenant, resolveActor } from '../tenancy';
import { CallerTransaction, CrossTenant, runIn, runOn, TenantOutbox, TenantScoped, TenantTransaction } from './tenant-scope';

/**
 * The one way an app reaches tenant data (see `tenant-scope.ts` for what is checked). Every handle is made
 * from a tenant id; where that id comes from is the caller's business:
 *
 *  - an HTTP request: `read(principal)` and `write(principal, tx => …)` (a `Principal` has `tenantId` and
 *    `subject`; the write resolves the caller to its `users` row, `tx.actorId`);
 *  - a Kafka consumer, a BullMQ job, a hook run (no Principal, the tenant is in the event or the row):
 *    `read(event.tenantid)`, `transaction(tenantId, tx => …)`, or, inside a transaction the caller
 *    already has (the consumer host's `manager`), `join(manager, tenantId)`;
 *  - work that spans tenants by design (sweeps, relays, firing loops): `allTenants(reason)` and
 *    `allTenantsTransaction(reason, tx => …)`; `tx.tenant(id)` turns to one tenant inside it.
 *
 * Nest apps get it from `TenantDataModule.forRoot({ outbox: OutboxService })`; anything else builds it
 * with `new TenantDatabase(dataSource, outbox)`.
 */
export interface TenantRef {
  tenantId: string;
}

/** An API caller: a `Principal` is one. */
export interface TenantCaller extends TenantRef {
  /** The JWT `sub`. */
  subject: string;
}

interface CallerRows {
  organizationId: string;
  actorId: number;
}

const MAX_CACHED_CALLERS = 10_000;

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

type Pool = { query(config: { name?: string; text: string; values: unknown[] }): Promise<{ rows: unknown[]; rowCount: number | null }> };

const tenantOf = (tenant: TenantRef | string) => (typeof tenant === 'string' ? tenant : tenant.tenantId);

export class TenantDatabase {
  /** (tenant, subject) → ids of rows that existed when last looked up. */
  private readonly actors = new Map<string, CallerRows>();

  constructor(
    readonly dataSource: DataSource,
    private readonly outbox: TenantOutbox,
  ) {}

  /**
   * Reads go straight to the pool of TypeORM's PostgreSQL driver (the same connections, settings and
   * type parsing): a read needs no transaction, and skipping the QueryRunner per statement is a third
   * of the CPU of a simple GET.
   */
  read(tenant: TenantRef | string): TenantScoped {
    return new TenantScoped(tenantOf(tenant), (sql, params) => this.onPool(sql, params));
  }

  /**
   * Statements of a tenant that each commit on their own, on the pool like `read`: a write that is one
   * statement (recording a run and its event) needs no transaction around it.
   */
  statements(tenant: TenantRef | string): TenantScoped {
    return this.read(tenant);
  }

  /** One transaction of a tenant without a caller (a consumer, a job, a hook run). */
  transaction<T>(tenant: TenantRef | string, work: (tx: TenantTransaction) => Promise<T>): Promise<T> {
    return this.dataSource.transaction((manager) => work(this.join(manager, tenant)));
  }

  /** The tenant's handle inside a transaction the caller already holds (e.g. the consumer host's `manager`). */
  join(manager: EntityManager, tenant: TenantRef | string): TenantTransaction {
    return new TenantTransaction(tenantOf(tenant), runIn(manager), manager, this.outbox);
  }

  /**
   * One transaction of an API caller, in which the tenant, its default organization and the caller's
   * `users` row exist (`ensureTenant` / `resolveActor`, only when missing; ids of rows seen to exist are
   * remembered, which saves a round trip per write). A failure anywhere in `work` rolls everything back.
   */
  async write<T>(caller: TenantCaller, work: (tx: CallerTransaction) => Promise<T>): Promise<T> {
    const key = `${caller.tenantId}\u0000${caller.subject}`;
    try {
      return await this.dataSource.transaction(async (manager) => {
        const runner = manager.queryRunner!;
        const { organizationId, actorId } = this.actors.get(key) ?? (await this.resolve(runner, caller, key));
        const tx = new CallerTransaction(caller.tenantId, (sql, params) => runOn(runner, sql, params), manager, this.outbox, caller.subject, actorId, organizationId);
        return work(tx);
      });
    } catch (error) {
      // A foreign key violation may mean a cached tenant or user row is gone: look it up again next time.
      if ((error as { driverError?: { code?: string } }).driverError?.code === '23503') this.actors.delete(key);
      throw error;
    }
  }

  /** Statements across tenants, outside a transaction; `reason` says why they span tenants. */
  allTenants(reason: string): CrossTenant {
    return new CrossTenant(reason, (sql, params) => this.onPool(sql, params, false));
  }

  /** One transaction across tenants (claims of due work of every tenant, a sweep); `reason` says why. */
  allTenantsTransaction<T>(reason: string, work: (tx: CrossTenant) => Promise<T>): Promise<T> {
    return this.dataSource.transaction((manager) => work(new CrossTenant(reason, runIn(manager), { manager, outbox: this.outbox })));
  }

  /**
   * Cross-tenant statements inside a transaction the caller already holds (a Kafka consumer's batch holds
   * events of many tenants and writes them in one statement); `reason` says why.
   */
  joinAllTenants(manager: EntityManager, reason: string): CrossTenant {
    return new CrossTenant(reason, runIn(manager), { manager, outbox: this.outbox });
  }

  private async onPool(sql: string, params: unknown[], prepared = true): Promise<{ rows: unknown[]; rowCount: number }> {
    const pool = (this.dataSource.driver as PostgresDriver).master as Pool;
    const result = await pool.query({ ...(prepared ? { name: statementName(sql) } : {}), text: sql, values: params });
    return { rows: result.rows, rowCount: result.rowCount ?? 0 };
  }

  /**
   * Tenant, default organization and user rows of a caller, created when missing, inside the caller's
   * transaction (so a write that fails leaves none behind). Ids of rows that already existed are
   * remembered (they never change); rows created here are not, as they exist only if this commits.
   */
  private async resolve(runner: QueryRunner, caller: TenantCaller, key: string): Promise<CallerRows> {
    const raw = { query: (sql: string, params?: unknown[]) => runner.query(sql, params) };
    const [known] = (await raw.query(
      `SELECT o.id AS organization_id, u.id AS actor_id
         FROM organizations o LEFT JOIN users u ON u.tenant_id = o.tenant_id AND u.subject = $2
        WHERE o.tenant_id = $1 AND o.is_default`,
      [caller.tenantId, caller.subject],
    )) as { organization_id: string; actor_id: number | null }[];
    if (known?.actor_id != null) {
      const rows = { organizationId: known.organization_id, actorId: known.actor_id };
      if (this.actors.size >= MAX_CACHED_CALLERS) this.actors.clear();
      this.actors.set(key, rows);
      return rows;
    }
    // Not cached: created in this transaction, they do not exist unless it commits.
    const organizationId = known?.organization_id ?? (await ensureTenant(raw, caller.tenantId));
    return { organizationId, actorId: await resolveActor(raw, caller.tenantId, caller.subject) };
  }
}

/** The JWT `sub` of `users.id` values of the tenant (for API responses that speak actor ids). */
export async function subjectsOf(db: TenantScoped, userIds: readonly number[]): Promise<Map<number, string>> {
  if (userIds.length === 0) return new Map();
  const rows = await db.query<{ id: number; subject: string }>('SELECT id, subject FROM users WHERE tenant_id = $1 AND id = ANY($2::int[])', [[...new Set(userIds)]]);
  return new Map(rows.map((r) => [r.id, r.subject]));
}
