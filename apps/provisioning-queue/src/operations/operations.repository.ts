import { Injectable } from '@nestjs/common';
import type {
  Connector,
  CrossTenant,
  ExecutionAttempt,
  OperationLog,
  OperationLogLevel,
  OperationStatus,
  OperationType,
  OutboxEntryLike,
  ProvisioningOperation,
  TenantScoped,
  TenantTransaction,
} from '@provisio/persistence';
import { toStorableJson, toStorableText } from '@provisio/platform';
import { SqlFilters } from '@provisio/platform';
import type { IdentityRow } from '../identities/identities.repository';
import type { OperationPayload } from './operation-plan';

/** A `provisioning_operations` row as every statement here returns it. */
export type OperationRow = Pick<
  ProvisioningOperation,
  | 'id'
  | 'tenant_id'
  | 'connector_id'
  | 'connector_name'
  | 'user_id'
  | 'operation_type'
  | 'object_class'
  | 'target_uid'
  | 'status'
  | 'priority'
  | 'retry_count'
  | 'max_retries'
  | 'error_message'
  | 'created_at'
  | 'updated_at'
  | 'completed_at'
  | 'resolution_notes'
  | 'account_key'
  | 'next_attempt_at'
  | 'started_at'
> & { payload: OperationPayload };

export type AttemptRow = Pick<ExecutionAttempt, 'id' | 'operation_id' | 'attempt_number' | 'started_at' | 'completed_at' | 'success' | 'error_code' | 'error_message' | 'duration_ms'>;
export type LogRow = Pick<OperationLog, 'id' | 'operation_id' | 'timestamp' | 'level' | 'message'>;

/** A connector as the planner and the worker need it. */
export type ConnectorRulesRow = Pick<Connector, 'id' | 'name' | 'type' | 'status' | 'attribute_mapping' | 'provisioning_policy' | 'mapping_script_id'>;

export interface NewOperation {
  /** Given by a requester that must know the id before the operation exists (the reconciler's remediation); otherwise generated. */
  id?: string;
  connector_id: string;
  connector_name: string;
  user_id: string | null;
  operation_type: OperationType;
  object_class: string;
  target_uid: string | null;
  account_key: string;
  priority: number;
  max_retries: number;
  payload: OperationPayload;
}

export interface OperationFilter {
  status?: OperationStatus;
  connector_id?: string;
  user_id?: string;
  operation_type?: OperationType;
  created_after?: Date;
  created_before?: Date;
}

/** The statuses in which an operation is still to finish: they hold their account (per-account ordering). */
export const OPEN_STATUSES: readonly OperationStatus[] = ['pending', 'in_progress', 'failed', 'awaiting_system'];

export const COLUMNS = `id, tenant_id, connector_id, connector_name, user_id, operation_type, object_class, target_uid, status, priority, retry_count,
  max_retries, error_message, payload, created_at, updated_at, completed_at, resolution_notes, account_key, next_attempt_at, started_at`;

/** The identity of a claimed operation, as its hooks and mapping script see it. */
export type ClaimedIdentity = Pick<IdentityRow, 'id' | 'username' | 'email' | 'display_name' | 'status' | 'attributes' | 'source_user_id'>;

/** An operation claimed by `claimMany`: in_progress with its new attempt, and what its run reads (its identity, its account link). */
export type ClaimedOperation = OperationRow & { attempt_id: string; attempt_number: number; identity: ClaimedIdentity | null; link_uid: string | null };

/** What `completeMany` records of one successful attempt. */
export interface Completion {
  id: string;
  attempt_id: string;
  target_uid: string | null;
  /** The account link the call leaves: created or refreshed (`upsert`), its hash refreshed (`refresh`), removed (`remove`), or untouched. */
  link: { kind: 'upsert' | 'refresh' | 'remove'; identity_id: string | null; connector_id: string; object_class: string; external_uid: string | null; attributes_hash: string } | null;
  /** The operation's log lines of the attempt, in order (the last says it completed). */
  logs: { level: OperationLogLevel; message: string }[];
}

/** `o.id, o.tenant_id, …`: COLUMNS of the table aliased `alias`. */
const columnsOf = (alias: string) =>
  COLUMNS.split(',')
    .map((column) => `${alias}.${column.trim()}`)
    .join(', ');

/** Every statement on `provisioning_operations`, `execution_attempts` and `operation_logs`; tenant-scoped unless named cross-tenant. */
@Injectable()
export class OperationsRepository {
  /** The tenant's connectors that provision (not `inactive`), for planning an identity change. */
  async provisioningConnectors(db: TenantScoped): Promise<ConnectorRulesRow[]> {
    return db.query(`SELECT id, name, type, status, attribute_mapping, provisioning_policy, mapping_script_id FROM connectors WHERE tenant_id = $1 AND status <> 'inactive' ORDER BY id`);
  }

  async connector(db: TenantScoped, id: string): Promise<ConnectorRulesRow | undefined> {
    return db.one(`SELECT id, name, type, status, attribute_mapping, provisioning_policy, mapping_script_id FROM connectors WHERE tenant_id = $1 AND id = $2`, [id]);
  }

  async insert(tx: TenantTransaction, operations: NewOperation[]): Promise<OperationRow[]> {
    if (operations.length === 0) return [];
    const values: unknown[] = [];
    const rows = operations.map((op) => {
      values.push(op.connector_id, op.connector_name, op.user_id, op.operation_type, op.object_class, op.target_uid, op.account_key, op.priority, op.max_retries, toStorableJson(op.payload), op.id ?? null);
      const p = values.length - 11 + 1; // first of this row's parameters, counting $1 as the tenant
      const columns = Array.from({ length: 10 }, (_, i) => `$${p + i + 1}${i === 9 ? '::jsonb' : ''}`);
      return `($1, ${columns.join(', ')}, COALESCE($${p + 11}::uuid, gen_random_uuid()))`;
    });
    return tx.query<OperationRow>(
      `INSERT INTO provisioning_operations (tenant_id, connector_id, connector_name, user_id, operation_type, object_class, target_uid, account_key, priority, max_retries, payload, id)
       VALUES ${rows.join(', ')} RETURNING ${COLUMNS}`,
      values,
    );
  }

  /**
   * Claims, in one statement, the operations of `ids` that may run now: `pending`, of a connector not in
   * `skipConnectors` (open circuits), not locked by another claim, and the first open operation of their
   * account (no other open one of the account is in progress or earlier — per-account ordering; the rule
   * of the one-at-a-time claim, so both may run side by side). Each goes `in_progress` with a new
   * ExecutionAttempt and its log line, and comes back with its identity and account link. The ids it
   * does not claim are left as they are (the caller takes them one at a time, which says why).
   *
   * Its plan must not depend on statistics: a queue table's are wrong by nature (thousands of rows go
   * pending and back within a minute, and a new table has none until autovacuum's first analyze). Every
   * row is found by its key — the ids through the primary key, an account's open operations through
   * `idx_operations_account_open` — and the tenant and status conditions are written `(…) IS TRUE`, which
   * no index serves, so the planner never prefers a tenant or status index it guesses to be tiny (it did,
   * and scanned the whole backlog for every id: 20 ms a claim at a backlog of 2,000). An account's open
   * operations are found by `account_key` (`idx_operations_account_open` leads with it), the connector
   * checked on the rows found; of one connector, they are of one tenant: no tenant condition is needed.
   */
  async claimMany(db: TenantScoped, ids: string[], skipConnectors: string[]): Promise<ClaimedOperation[]> {
    if (ids.length === 0) return [];
    return db.query<ClaimedOperation>(
      // Each wanted id is looked up on its own (a locking LATERAL subquery is never flattened into a join),
      // the update finds the rows it locked by their tuple id (ctid: stable while they are locked), and the
      // identity is a subquery per row: so every table is read through its key, even when its statistics
      // say it is nearly empty (a new install; a queue table between analyzes), where the planner would
      // rather scan the table once per row of the batch.
      `WITH candidates AS (
         SELECT o.id, o.tid FROM unnest($2::uuid[]) AS wanted(id) CROSS JOIN LATERAL (
           SELECT x.id, x.ctid AS tid FROM provisioning_operations x
            WHERE x.id = wanted.id AND (x.tenant_id = $1) IS TRUE AND (x.status = 'pending') IS TRUE AND NOT (x.connector_id = ANY($3::uuid[]))
              AND NOT EXISTS (
                SELECT 1 FROM provisioning_operations e
                 WHERE e.account_key = x.account_key AND (e.connector_id = x.connector_id) IS TRUE AND e.id <> x.id
                   AND e.status IN ('pending', 'in_progress', 'failed', 'awaiting_system')
                   AND (e.status = 'in_progress' OR (e.created_at, e.id) < (x.created_at, x.id)))
            FOR UPDATE SKIP LOCKED) o
       ), claimed AS (
         UPDATE provisioning_operations p SET status = 'in_progress', started_at = now(), updated_at = now()
           FROM candidates c WHERE p.ctid = c.tid AND (p.tenant_id = $1) IS TRUE AND (p.status = 'pending') IS TRUE
         RETURNING ${columnsOf('p')}
       ), attempts AS (
         INSERT INTO execution_attempts (tenant_id, operation_id, attempt_number)
         SELECT $1, c.id, coalesce((SELECT max(a.attempt_number) FROM execution_attempts a WHERE a.operation_id = c.id AND (a.tenant_id = $1) IS TRUE), 0) + 1 FROM claimed c
         RETURNING id, operation_id, attempt_number
       ), logged AS (
         INSERT INTO operation_logs (tenant_id, operation_id, level, message) SELECT $1, a.operation_id, 'info', 'attempt ' || a.attempt_number || ' started' FROM attempts a
       )
       SELECT c.*, a.id AS attempt_id, a.attempt_number,
              (SELECT l.external_uid FROM account_links l
                WHERE l.identity_id = c.user_id AND l.connector_id = c.connector_id AND l.object_class = c.object_class AND (l.tenant_id = $1) IS TRUE) AS link_uid,
              (SELECT jsonb_build_object('id', i.id, 'username', i.username, 'email', i.email, 'display_name', i.display_name,
                      'status', i.status, 'attributes', i.attributes, 'source_user_id', i.source_user_id)
                 FROM identities i WHERE i.id = c.user_id AND (i.tenant_id = $1) IS TRUE) AS identity
         FROM claimed c JOIN attempts a ON a.operation_id = c.id`,
      [ids, skipConnectors],
    );
  }

  /**
   * Records many successful attempts in one transaction's few statements: each attempt finished, each
   * account link kept (created, refreshed, removed), each operation `in_progress → completed` with its
   * log. Answers the operations that completed (one taken back meanwhile, as abandoned, is not: its
   * link is still kept, the target did change).
   */
  async completeMany(tx: TenantTransaction, completions: Completion[]): Promise<OperationRow[]> {
    if (completions.length === 0) return [];
    await tx.execute(
      `UPDATE execution_attempts a SET completed_at = now(), success = true, error_code = NULL, error_message = NULL,
              duration_ms = GREATEST(0, (extract(epoch FROM (now() - a.started_at)) * 1000)::int)
        WHERE a.id IN (SELECT unnest($2::uuid[])) AND (a.tenant_id = $1) IS TRUE`, // keyed, whatever the statistics say (claimMany)
      [completions.map((c) => c.attempt_id)],
    );
    const links = completions.flatMap((c) => (c.link ? [c.link] : []));
    const of = (kind: string) => toStorableJson(links.filter((l) => l.kind === kind));
    if (links.some((l) => l.kind === 'upsert')) {
      await tx.execute(
        `INSERT INTO account_links (tenant_id, identity_id, connector_id, object_class, external_uid, attributes_hash, last_synced_at)
         SELECT $1, d.identity_id, d.connector_id, d.object_class, d.external_uid, d.attributes_hash, now()
           FROM jsonb_to_recordset($2::jsonb) AS d(identity_id uuid, connector_id uuid, object_class text, external_uid text, attributes_hash text)
         ON CONFLICT (identity_id, connector_id, object_class)
         DO UPDATE SET external_uid = EXCLUDED.external_uid, attributes_hash = EXCLUDED.attributes_hash, last_synced_at = now()`,
        [of('upsert')],
      );
    }
    if (links.some((l) => l.kind === 'refresh')) {
      await tx.execute(
        `UPDATE account_links l SET attributes_hash = d.attributes_hash, last_synced_at = now()
           FROM jsonb_to_recordset($2::jsonb) AS d(identity_id uuid, connector_id uuid, object_class text, attributes_hash text)
          WHERE l.tenant_id = $1 AND l.identity_id = d.identity_id AND l.connector_id = d.connector_id AND l.object_class = d.object_class`,
        [of('refresh')],
      );
    }
    if (links.some((l) => l.kind === 'remove')) {
      await tx.execute(
        `DELETE FROM account_links l USING jsonb_to_recordset($2::jsonb) AS d(connector_id uuid, object_class text, external_uid text)
          WHERE l.tenant_id = $1 AND l.connector_id = d.connector_id AND l.object_class = d.object_class AND l.external_uid = d.external_uid`,
        [of('remove')],
      );
    }
    const done = await tx.query<OperationRow>(
      `UPDATE provisioning_operations p SET status = 'completed', updated_at = now(), completed_at = now(), target_uid = coalesce(d.target_uid, p.target_uid), error_message = NULL
         FROM jsonb_to_recordset($2::jsonb) AS d(id uuid, target_uid text)
        WHERE p.id = d.id AND (p.tenant_id = $1) IS TRUE AND (p.status = 'in_progress') IS TRUE
        RETURNING ${columnsOf('p')}`,
      [toStorableJson(completions.map((c) => ({ id: c.id, target_uid: c.target_uid })))],
    );
    const completed = new Set(done.map((row) => row.id));
    await this.logMany(
      tx,
      completions.filter((c) => completed.has(c.id)).flatMap((c) => c.logs.map((line) => ({ operation_id: c.id, ...line }))),
    );
    return done;
  }

  /**
   * Inserts one operation (its id given), its `created` log line and its announcement in one statement:
   * the common case of an identity change (one connector covers it), one round trip instead of three.
   */
  async insertAnnounced(tx: TenantTransaction, op: NewOperation & { id: string }, logLine: string, announcement: OutboxEntryLike): Promise<OperationRow> {
    const params = [op.id, op.connector_id, op.connector_name, op.user_id, op.operation_type, op.object_class, op.target_uid, op.account_key, op.priority, op.max_retries, toStorableJson(op.payload), toStorableText(logLine).slice(0, 4000)];
    const announced = tx.announceIfAny('inserted', announcement, params.length + 2);
    const [row] = await tx.query<OperationRow>(
      `WITH inserted AS (
         INSERT INTO provisioning_operations (tenant_id, id, connector_id, connector_name, user_id, operation_type, object_class, target_uid, account_key, priority, max_retries, payload)
         VALUES ($1, $2::uuid, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb) RETURNING ${COLUMNS}
       ), logged AS (
         INSERT INTO operation_logs (tenant_id, operation_id, level, message) SELECT $1, i.id, 'info', $13 FROM inserted i
       ), ${announced.cte}
       SELECT * FROM inserted`,
      [...params, ...announced.params],
    );
    return row;
  }

  /** Log lines of many operations in one statement, each operation's in the order given. */
  async logMany(tx: TenantScoped, lines: { operation_id: string; level: OperationLogLevel; message: string }[]): Promise<void> {
    if (lines.length === 0) return;
    // clock_timestamp() per row, in the order given: the log reads in that order ("timestamp", then id).
    await tx.execute(
      `INSERT INTO operation_logs (tenant_id, operation_id, level, message, "timestamp")
       SELECT $1, l.operation_id, l.level, l.message, clock_timestamp()
         FROM unnest($2::uuid[], $3::varchar[], $4::text[]) WITH ORDINALITY AS l(operation_id, level, message, n) ORDER BY l.n`,
      [lines.map((l) => l.operation_id), lines.map((l) => l.level), lines.map((l) => toStorableText(l.message).slice(0, 4000))],
    );
  }

  /** The first open operation of each (connector, account) of `accounts`, of one tenant (what may run next on them). */
  async firstOpenOnAccounts(db: TenantScoped, accounts: { connector_id: string; account_key: string }[]): Promise<OperationRow[]> {
    if (accounts.length === 0) return [];
    return db.query(
      // One keyed look-up per account (LATERAL … LIMIT 1 is not flattened), whatever the statistics say (claimMany).
      `SELECT f.* FROM unnest($2::uuid[], $3::text[]) AS k(connector_id, account_key) CROSS JOIN LATERAL (
         SELECT ${columnsOf('o')} FROM provisioning_operations o
          WHERE o.account_key = k.account_key AND (o.connector_id = k.connector_id) IS TRUE AND (o.tenant_id = $1) IS TRUE
            AND o.status IN ('pending', 'in_progress', 'failed', 'awaiting_system')
          ORDER BY o.created_at, o.id LIMIT 1) f`,
      [accounts.map((a) => a.connector_id), accounts.map((a) => a.account_key)],
    );
  }

  /** Of `ids` (of any tenant), those still `pending`: what an announcement of their creation should enqueue. */
  async stillPending(db: CrossTenant, ids: string[]): Promise<{ id: string; tenant_id: string; priority: number }[]> {
    if (ids.length === 0) return [];
    return db.query(`SELECT id, tenant_id, priority FROM provisioning_operations WHERE id IN (SELECT unnest($1::uuid[])) AND (status = 'pending') IS TRUE`, [ids]);
  }

  async find(db: TenantScoped, id: string): Promise<OperationRow | undefined> {
    return db.one(`SELECT ${COLUMNS} FROM provisioning_operations WHERE tenant_id = $1 AND id = $2`, [id]);
  }

  async lock(tx: TenantTransaction, id: string): Promise<OperationRow | undefined> {
    return tx.one(`SELECT ${COLUMNS} FROM provisioning_operations WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, [id]);
  }

  /**
   * Serialises claims of one account's operations across workers and replicas until the transaction
   * ends (a transaction-scoped advisory lock on connector + account key).
   */
  async lockAccount(tx: TenantTransaction, connectorId: string, accountKey: string): Promise<void> {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended(t.tenant_id || ':' || $2 || ':' || $3, 0)) FROM (SELECT $1::text AS tenant_id) t WHERE t.tenant_id = $1`, [
      connectorId,
      accountKey,
    ]);
  }

  /** The open operations of an account other than `exceptId`, oldest first. */
  async openOnAccount(db: TenantScoped, connectorId: string, accountKey: string, exceptId: string | null): Promise<OperationRow[]> {
    return db.query(
      `SELECT ${COLUMNS} FROM provisioning_operations
        WHERE tenant_id = $1 AND connector_id = $2 AND account_key = $3 AND status IN ('pending', 'in_progress', 'failed', 'awaiting_system')
          AND ($4::uuid IS NULL OR id <> $4) ORDER BY created_at, id`,
      [connectorId, accountKey, exceptId],
    );
  }

  /**
   * Moves an operation from one of `from` to `to`, setting `fields` (column → value; code, never request
   * text). Answers the row after the change, or undefined when it was not in one of `from`.
   */
  async transition(tx: TenantScoped, id: string, from: readonly OperationStatus[], to: OperationStatus, fields: Record<string, unknown> = {}): Promise<OperationRow | undefined> {
    const names = Object.keys(fields);
    const sets = names.map((name, i) => `${name} = $${i + 5}`);
    return tx.one(
      `UPDATE provisioning_operations SET status = $4, updated_at = now()${sets.length ? `, ${sets.join(', ')}` : ''}
        WHERE tenant_id = $1 AND id = $2 AND status = ANY($3::varchar[]) RETURNING ${COLUMNS}`,
      [id, from, to, ...names.map((name) => fields[name])],
    );
  }

  async nextAttemptNumber(tx: TenantScoped, operationId: string): Promise<number> {
    const row = await tx.one<{ n: number }>('SELECT coalesce(max(attempt_number), 0)::int + 1 AS n FROM execution_attempts WHERE tenant_id = $1 AND operation_id = $2', [operationId]);
    return row!.n;
  }

  async startAttempt(tx: TenantTransaction, operationId: string, attemptNumber: number): Promise<AttemptRow> {
    const row = await tx.one<AttemptRow>(
      `INSERT INTO execution_attempts (tenant_id, operation_id, attempt_number) VALUES ($1, $2, $3)
       RETURNING id, operation_id, attempt_number, started_at, completed_at, success, error_code, error_message, duration_ms`,
      [operationId, attemptNumber],
    );
    return row!;
  }

  async finishAttempt(tx: TenantScoped, attemptId: string, outcome: { success: boolean; error_code: string | null; error_message: string | null }): Promise<void> {
    await tx.execute(
      `UPDATE execution_attempts SET completed_at = now(), success = $3, error_code = $4, error_message = $5,
              duration_ms = GREATEST(0, (extract(epoch FROM (now() - started_at)) * 1000)::int)
        WHERE tenant_id = $1 AND id = $2`,
      [attemptId, outcome.success, outcome.error_code, outcome.error_message === null ? null : toStorableText(outcome.error_message).slice(0, 4000)],
    );
  }

  /** The attempt of an operation that has not finished (its worker died mid-call). */
  async unfinishedAttempt(tx: TenantScoped, operationId: string): Promise<AttemptRow | undefined> {
    return tx.one(
      `SELECT id, operation_id, attempt_number, started_at, completed_at, success, error_code, error_message, duration_ms
         FROM execution_attempts WHERE tenant_id = $1 AND operation_id = $2 AND completed_at IS NULL ORDER BY attempt_number DESC LIMIT 1`,
      [operationId],
    );
  }

  async log(tx: TenantScoped, operationId: string, level: OperationLogLevel, message: string): Promise<void> {
    await tx.execute(`INSERT INTO operation_logs (tenant_id, operation_id, level, message) VALUES ($1, $2, $3, $4)`, [operationId, level, toStorableText(message).slice(0, 4000)]);
  }

  async attempts(db: TenantScoped, operationId: string): Promise<AttemptRow[]> {
    return db.query(
      `SELECT id, operation_id, attempt_number, started_at, completed_at, success, error_code, error_message, duration_ms
         FROM execution_attempts WHERE tenant_id = $1 AND operation_id = $2 ORDER BY attempt_number`,
      [operationId],
    );
  }

  async logs(db: TenantScoped, operationId: string): Promise<LogRow[]> {
    return db.query(`SELECT id, operation_id, "timestamp", level, message FROM operation_logs WHERE tenant_id = $1 AND operation_id = $2 ORDER BY "timestamp", id`, [operationId]);
  }

  async list(db: TenantScoped, filter: OperationFilter, page: { limit: number; offset: number }, order = 'created_at DESC, id'): Promise<{ rows: OperationRow[]; total: number }> {
    const filters = this.filters(filter);
    const paged = filters.page(page);
    const [rows, [{ total }]] = await Promise.all([
      db.query<OperationRow>(`SELECT ${COLUMNS} FROM provisioning_operations WHERE ${filters.where} ORDER BY ${order} ${paged.sql}`, paged.params),
      db.query<{ total: number }>(`SELECT count(*)::int AS total FROM provisioning_operations WHERE ${filters.where}`, filters.params),
    ]);
    return { rows, total };
  }

  /** Ids of the operations matching `filter` in one of `statuses`, locked (bulk retry), at most `limit`. */
  async lockMatching(tx: TenantTransaction, filter: OperationFilter, statuses: readonly OperationStatus[], limit: number): Promise<OperationRow[]> {
    const filters = this.filters(filter).add('status = ANY(?::varchar[])', statuses);
    return tx.query(`SELECT ${COLUMNS} FROM provisioning_operations WHERE ${filters.where} ORDER BY created_at, id LIMIT ${Math.floor(limit)} FOR UPDATE`, filters.params);
  }

  /** QueueStatistics of the tenant (seed 002), optionally of one connector. */
  async statistics(db: TenantScoped, connectorId?: string): Promise<Record<string, number>> {
    const row = await db.one<Record<string, number>>(
      `SELECT count(*) FILTER (WHERE status = 'pending')::int AS pending,
              count(*) FILTER (WHERE status = 'in_progress')::int AS in_progress,
              count(*) FILTER (WHERE status = 'completed')::int AS completed,
              count(*) FILTER (WHERE status = 'failed')::int AS failed,
              count(*) FILTER (WHERE status = 'dead_letter')::int AS dead_letter,
              count(*) FILTER (WHERE status = 'awaiting_system')::int AS awaiting_system,
              count(*) FILTER (WHERE status = 'resolved')::int AS resolved,
              count(*) FILTER (WHERE status = 'cancelled')::int AS cancelled,
              coalesce(avg(extract(epoch FROM (completed_at - created_at))) FILTER (WHERE status = 'completed'), 0)::float8 AS avg_processing_time_secs
         FROM provisioning_operations WHERE tenant_id = $1 AND ($2::uuid IS NULL OR connector_id = $2)`,
      [connectorId ?? null],
    );
    return row!;
  }

  async statisticsByConnector(db: TenantScoped): Promise<(Record<string, number> & { connector_id: string; connector_name: string })[]> {
    return db.query(
      `SELECT connector_id, max(connector_name) AS connector_name,
              count(*) FILTER (WHERE status = 'pending')::int AS pending,
              count(*) FILTER (WHERE status = 'in_progress')::int AS in_progress,
              count(*) FILTER (WHERE status = 'completed')::int AS completed,
              count(*) FILTER (WHERE status = 'failed')::int AS failed,
              count(*) FILTER (WHERE status = 'dead_letter')::int AS dead_letter,
              count(*) FILTER (WHERE status = 'awaiting_system')::int AS awaiting_system,
              count(*) FILTER (WHERE status = 'resolved')::int AS resolved,
              count(*) FILTER (WHERE status = 'cancelled')::int AS cancelled,
              coalesce(avg(extract(epoch FROM (completed_at - created_at))) FILTER (WHERE status = 'completed'), 0)::float8 AS avg_processing_time_secs
         FROM provisioning_operations WHERE tenant_id = $1 GROUP BY connector_id ORDER BY connector_name, connector_id`,
    );
  }

  /** awaiting_system → pending for every operation of a connector whose target answers again, each with a log line. */
  async resumeAwaiting(tx: TenantScoped, connectorId: string, message: string): Promise<{ id: string; tenant_id: string; priority: number }[]> {
    return tx.query(
      `WITH resumed AS (
         UPDATE provisioning_operations SET status = 'pending', updated_at = now(), error_message = NULL
          WHERE tenant_id = $1 AND connector_id = $2 AND status = 'awaiting_system' RETURNING id, tenant_id, priority
       ), logged AS (
         INSERT INTO operation_logs (tenant_id, operation_id, level, message) SELECT tenant_id, id, 'info', $3 FROM resumed
       )
       SELECT id, tenant_id, priority FROM resumed`,
      [connectorId, message],
    );
  }

  // ---- account links ------------------------------------------------------------------------

  async link(db: TenantScoped, identityId: string, connectorId: string, objectClass: string): Promise<{ id: string; external_uid: string } | undefined> {
    return db.one('SELECT id, external_uid FROM account_links WHERE tenant_id = $1 AND identity_id = $2 AND connector_id = $3 AND object_class = $4', [identityId, connectorId, objectClass]);
  }

  /** Creates or refreshes the link of an identity's account (a create, or an update of a re-created account). */
  async upsertLink(tx: TenantScoped, identityId: string, connectorId: string, objectClass: string, externalUid: string, attributesHash: string): Promise<void> {
    await tx.execute(
      `INSERT INTO account_links (tenant_id, identity_id, connector_id, object_class, external_uid, attributes_hash, last_synced_at)
       VALUES ($1, $2, $3, $4, $5, $6, now())
       ON CONFLICT (identity_id, connector_id, object_class)
       DO UPDATE SET external_uid = EXCLUDED.external_uid, attributes_hash = EXCLUDED.attributes_hash, last_synced_at = now()`,
      [identityId, connectorId, objectClass, externalUid, attributesHash],
    );
  }

  async refreshLink(tx: TenantScoped, identityId: string, connectorId: string, objectClass: string, attributesHash: string): Promise<void> {
    await tx.execute(
      'UPDATE account_links SET attributes_hash = $5, last_synced_at = now() WHERE tenant_id = $1 AND identity_id = $2 AND connector_id = $3 AND object_class = $4',
      [identityId, connectorId, objectClass, attributesHash],
    );
  }

  async removeLink(tx: TenantScoped, connectorId: string, objectClass: string, externalUid: string): Promise<void> {
    await tx.execute('DELETE FROM account_links WHERE tenant_id = $1 AND connector_id = $2 AND object_class = $3 AND external_uid = $4', [connectorId, objectClass, externalUid]);
  }

  // ---- cross-tenant: the sweep and the probe ------------------------------------------------

  /**
   * Open operations of every tenant that the queue may have lost (Redis restarted, a process died):
   * pending or due-to-retry ones not touched for `idleMs`, and in_progress ones started before
   * `abandonedBefore`. Oldest first, at most `limit`.
   */
  async stale(db: CrossTenant, idleMs: number, abandonedBeforeMs: number, limit: number): Promise<{ id: string; tenant_id: string; status: OperationStatus; priority: number }[]> {
    return db.query(
      `SELECT id, tenant_id, status, priority FROM provisioning_operations
        WHERE (status = 'pending' AND updated_at < now() - make_interval(secs => $1::float8 / 1000))
           OR (status = 'failed' AND next_attempt_at IS NOT NULL AND next_attempt_at < now() - make_interval(secs => $1::float8 / 1000))
           OR (status = 'in_progress' AND started_at < now() - make_interval(secs => $2::float8 / 1000))
        ORDER BY updated_at LIMIT $3`,
      [idleMs, abandonedBeforeMs, limit],
    );
  }

  /** Connectors of every tenant with operations awaiting their target. */
  async awaitingConnectors(db: CrossTenant): Promise<{ tenant_id: string; connector_id: string; waiting: number }[]> {
    return db.query(
      `SELECT tenant_id, connector_id, count(*)::int AS waiting FROM provisioning_operations WHERE status = 'awaiting_system' GROUP BY tenant_id, connector_id`,
    );
  }

  /** Queue depth and the oldest pending operation of every tenant, for the metrics. */
  async depth(db: CrossTenant): Promise<{ status: string; count: number; oldest_secs: number | null }[]> {
    return db.query(
      `SELECT status, count(*)::int AS count, extract(epoch FROM (now() - min(created_at)))::float8 AS oldest_secs
         FROM provisioning_operations WHERE status IN ('pending', 'in_progress', 'failed', 'awaiting_system') GROUP BY status`,
    );
  }

  private filters(filter: OperationFilter): SqlFilters {
    const filters = new SqlFilters();
    if (filter.status) filters.add('status = ?', filter.status);
    if (filter.connector_id) filters.add('connector_id = ?', filter.connector_id);
    if (filter.user_id) filters.add('user_id = ?', filter.user_id);
    if (filter.operation_type) filters.add('operation_type = ?', filter.operation_type);
    if (filter.created_after) filters.add('created_at >= ?', filter.created_after);
    if (filter.created_before) filters.add('created_at < ?', filter.created_before);
    return filters;
  }
}
