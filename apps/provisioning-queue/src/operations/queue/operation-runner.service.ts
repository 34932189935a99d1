import { Inject, Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { Counter } from 'prom-client';
import { Attributes, Connector, ConnectorError, ConnectorErrorCode, isConnectorError, isEmptyDelta, isTargetUnavailable, ObjectClass, TargetObject, WriteOperation, WriteOutcome } from '@provisio/connectors';
import { createCloudEvent, EventType, messageKey, Topic } from '@provisio/contracts';
import { MappingScriptFailed, MappingScriptRunner } from '@provisio/mapping-scripts';
import { TenantDatabase, TenantTransaction } from '@provisio/persistence';
import { APP_CONFIG, Batcher, Metrics } from '@provisio/platform';
import type { AppConfig } from '../../config';
import { asConnectorError } from '../../connectors/target-calls';
import { HookContext, HookLog, HookRunner, HooksUnavailable, HookVersions } from '../../hooks/hook-runner.service';
import { IdentitiesRepository } from '../../identities/identities.repository';
import { operationFinishedEvent } from '../operation-finished';
import { OPERATION_SOURCE } from '../operation-planner.service';
import { ClaimedIdentity, ClaimedOperation, Completion, ConnectorRulesRow, OperationRow, OperationsRepository } from '../operations.repository';
import { Circuits } from './circuits';
import { ConnectorPool } from './connector-pool';
import { retryDelayMs } from './retry-policy';

/** What the queue does with an operation's job after a run. */
export type RunOutcome =
  /** Nothing more for this job: finished, cancelled, waiting for its target, or someone else's. */
  | { kind: 'done'; status: OperationRow['status'] | 'gone'; operation?: OperationRow }
  /** An earlier operation of the same account is open: look again later (its end also wakes this one). */
  | { kind: 'blocked'; connectorId: string; accountKey: string }
  /** A failed operation whose retry is due at `at`. */
  | { kind: 'retry'; at: Date };

/** What the claim read for the run: the identity (null: none or gone) and the account link's uid (null: no link). */
interface Prefetched {
  identity: ClaimedIdentity | null;
  linkUid: string | null;
}

/** The hooks' versions of an operation's first attempt: no hook ran on it yet, so none is pinned (what versionsOf would read). */
const FIRST_ATTEMPT_VERSIONS: HookVersions = { mode: 'original', pinned: new Map() };

/** A successful attempt to record (in a batch). */
interface Success {
  operation: OperationRow;
  attemptId: string;
  result: CallResult;
  logs: HookLog[];
}

/** How long a connector row read for hooks and mapping scripts is used (an edit takes effect within this, as in ConnectorPool). */
const CONNECTOR_ROW_TTL_MS = 2_000;

/**
 * Writes one connector's operations send together (`writeBatch`: one multi-row SQL statement, one SCIM
 * Bulk request), and such batches in flight at once per connector; the connector's own limits (batch
 * size, Bulk maxOperations, governor) apply within them.
 */
const WRITE_BATCH = { maxSize: 50, maxInFlight: 4 };

/** Attributes a connector may correlate an existing account by, when a create finds it exists already (a create re-run after a crash). */
const CORRELATION_ATTRIBUTES = ['userName', 'uid', 'username', 'login', 'cn', 'email', 'mail'];

export const attributesHash = (attributes: Attributes | undefined) => createHash('sha256').update(stableJson(attributes ?? {})).digest('hex');

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${stableJson((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

interface CallResult {
  uid: string | null;
  message: string;
  /** A before hook skipped the operation: no call was made, the account link is left as it is. */
  skipped?: boolean;
}

/** Why an attempt failed, whether at the target or in a hook. */
interface Failure {
  code: string;
  message: string;
  transient: boolean;
  retryAfterMs?: number;
  /** The target as a whole is down (the circuit opens). */
  targetDown: boolean;
  rateLimited: boolean;
}

function fromConnectorError(error: ConnectorError): Failure {
  return { code: error.code, message: error.message, transient: error.transient, retryAfterMs: error.retryAfterMs, targetDown: isTargetUnavailable(error.code), rateLimited: error.code === ConnectorErrorCode.RateLimited };
}

const hookFailure = (message: string, transient = false): Failure => ({ code: transient ? 'hook_unavailable' : 'hook_failed', message, transient, targetDown: false, rateLimited: false });
const mappingFailure = (error: MappingScriptFailed): Failure => ({ code: error.transient ? 'mapping_script_unavailable' : 'mapping_script_failed', message: error.message, transient: error.transient, targetDown: false, rateLimited: false });

/**
 * Runs one operation: claims it (pending → in_progress, one ExecutionAttempt), calls the target
 * outside any transaction, and records the outcome with its account link, logs and events:
 *
 *  - success → `completed`; the account link created (create), refreshed (update) or removed (delete);
 *  - target down (`isTargetUnavailable`) → `awaiting_system`, the connector's circuit opens, no retry spent;
 *  - rate limited → `failed` with its retry at the target's Retry-After, no retry spent;
 *  - other transient failures → `failed` with a retry after exponential backoff with jitter (never
 *    before Retry-After), `retry_count` + 1; once `max_retries` are spent → `dead_letter`;
 *  - permanent failures → `failed` → `dead_letter` at once, published on `provisio.provisioning-operations.dlq`.
 *
 * Per-account ordering: the claim holds a transaction-scoped advisory lock on (connector, account) and
 * refuses while an earlier operation of the account is open, so two operations of one account never
 * run at once and the later waits.
 *
 * Batched: the claims of the runs that start together are one statement (`claimMany`, the same
 * ordering rule in SQL), and their successes are recorded together (`completeMany`, a few multi-row
 * statements in one transaction; see Batcher). What the batch does not take — a retry that is due, an
 * abandoned attempt, an operation held back by its account, an open circuit — goes through the
 * one-at-a-time claim, which says why; failures are recorded one at a time. The writes of one connector's
 * operations that reach the target together go as one `writeBatch` (a multi-row SQL statement, a SCIM
 * Bulk request), each operation getting its own write's outcome.
 */
@Injectable()
export class OperationRunner {
  readonly outcomes: Counter<'outcome' | 'operation_type'>;
  private readonly claims: Batcher<{ tenantId: string; operationId: string }, ClaimedOperation | null>;
  private readonly successes: Batcher<Success, RunOutcome>;
  private readonly connectorRows = new Map<string, { at: number; row: Promise<ConnectorRulesRow | undefined> }>();
  /** By live connector (ConnectorPool replaces one when its row changes; the old one's batcher goes with it). */
  private readonly writes = new WeakMap<Connector, Batcher<WriteOperation, WriteOutcome>>();

  constructor(
    private readonly db: TenantDatabase,
    private readonly operations: OperationsRepository,
    private readonly pool: ConnectorPool,
    private readonly circuits: Circuits,
    private readonly hooks: HookRunner,
    private readonly identities: IdentitiesRepository,
    private readonly mappingScripts: MappingScriptRunner,
    metrics: Metrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.outcomes = new Counter({
      name: 'provisio_provisioning_operations_total',
      help: 'Provisioning operation attempts by outcome (completed, retry, rate_limited, awaiting_system, dead_letter)',
      labelNames: ['outcome', 'operation_type'],
      registers: [metrics.registry],
    });
    const batch = { maxSize: config.PROVISIONING_BATCH_SIZE, maxInFlight: config.PROVISIONING_BATCHES_IN_FLIGHT };
    this.claims = new Batcher((items) => this.claimBatch(items), batch);
    this.successes = new Batcher((items) => this.recordSuccesses(items), batch);
  }

  async run(tenantId: string, operationId: string): Promise<RunOutcome> {
    let operation: OperationRow;
    let attemptId: string;
    let prefetched: Prefetched | undefined;
    let attemptNumber: number;
    const batched = await this.claims.submit({ tenantId, operationId }).catch(() => null); // the one-at-a-time claim says what went wrong
    if (batched) {
      const { attempt_id, attempt_number, identity, link_uid, ...row } = batched;
      operation = row;
      attemptId = attempt_id;
      attemptNumber = attempt_number;
      prefetched = { identity, linkUid: link_uid };
    } else {
      const claimed = await this.claim(tenantId, operationId);
      if (claimed.kind !== 'claimed') return claimed.outcome;
      ({ operation, attemptId, attemptNumber } = claimed);
    }
    const logs: HookLog[] = [];
    let result: CallResult | undefined;
    let failure: Failure | undefined;
    let changedTarget: CallResult | undefined;
    try {
      await this.applyMappingScript(operation, logs, prefetched);
      result = await this.withHooks(operation, logs, prefetched, attemptNumber);
    } catch (error) {
      if (error instanceof MappingScriptFailed) failure = mappingFailure(error);
      else if (error instanceof HooksUnavailable) failure = hookFailure(error.message, true);
      else if (error instanceof HookAbort) failure = hookFailure(error.message);
      else failure = fromConnectorError(asConnectorError(error));
      if (error instanceof HookAbort) changedTarget = error.result;
    }
    if (result) {
      const recorded = await this.successes.submit({ operation, attemptId, result, logs }).catch(() => null);
      if (recorded) return recorded;
      // The batch's transaction failed as a whole (and rolled back): this one is recorded on its own.
    }
    return this.db.transaction(tenantId, async (tx) => {
      for (const line of logs) await this.operations.log(tx, operation.id, line.level, line.message);
      if (result) return this.succeeded(tx, operation, attemptId, result);
      if (changedTarget) await this.keepLinks(tx, operation, changedTarget); // an after hook failed, but the target did change
      return this.failed(tx, operation, attemptId, failure!);
    });
  }

  /**
   * The connector's mapping script (payload.mapping_script_id), run on the identity as it is now and the
   * attributes its rules gave: its answer becomes the operation's attributes (a create writes them; an
   * update replaces them all and removes what the rules no longer give, unless the script gives it).
   * It runs before the hooks, which see its attributes. A failure is a MappingScriptFailed.
   */
  private async applyMappingScript(operation: OperationRow, logs: HookLog[], prefetched?: Prefetched): Promise<void> {
    const scriptId = operation.payload.mapping_script_id;
    if (!scriptId || !operation.user_id || (operation.operation_type !== 'create' && operation.operation_type !== 'update')) return;
    const [identity, connector] = await Promise.all([this.identityOf(operation, prefetched), this.connectorRow(operation.tenant_id, operation.connector_id)]);
    if (!identity) throw new MappingScriptFailed(scriptId, `mapping script ${scriptId} cannot run: identity ${operation.user_id} no longer exists`);
    const mapped = operation.payload.attributes ?? {};
    const run = await this.mappingScripts.apply(
      operation.tenant_id,
      scriptId,
      { id: operation.connector_id, name: operation.connector_name, type: connector?.type ?? 'unknown' },
      { identity, attributes: mapped },
      { triggerData: { operation_id: operation.id }, operationId: operation.id },
    );
    const payload = { ...operation.payload, attributes: run.attributes };
    if (operation.operation_type === 'update') {
      const dropped = [...(operation.payload.delta?.remove ?? []), ...Object.keys(mapped)];
      payload.delta = { replace: run.attributes, remove: [...new Set(dropped)].filter((name) => !(name in run.attributes)) };
    }
    operation.payload = payload;
    logs.push({ level: 'info', message: `mapping script ${scriptId} v${run.scriptVersion ?? '?'} set the attributes (${Object.keys(run.attributes).join(', ')})` });
  }

  /**
   * Before hooks (which may change the attributes, skip or fail the operation), the connector call, then
   * after hooks (which see its result). An after hook that aborts fails the operation although the
   * target has changed: the account link is kept true, and a retry re-runs the whole operation
   * (creates adopt the account they find, updates and deletes are idempotent).
   */
  private async withHooks(operation: OperationRow, logs: HookLog[], prefetched?: Prefetched, attemptNumber?: number): Promise<CallResult> {
    const hookOperation = operation.payload.hook_operation;
    if (!(await this.hooks.any(operation.tenant_id, operation.connector_id, hookOperation))) return this.call(operation, prefetched);
    const [connector, identity] = await Promise.all([this.connectorRow(operation.tenant_id, operation.connector_id), this.identityOf(operation, prefetched)]);
    const changes = operation.operation_type === 'update' ? (operation.payload.delta?.replace ?? {}) : (operation.payload.attributes ?? {});
    const context: HookContext = {
      phase: 'before',
      operation: {
        id: operation.id,
        type: operation.operation_type,
        hook_operation: hookOperation,
        object_class: operation.object_class,
        target_uid: operation.target_uid,
        attributes: changes,
        ...(operation.payload.enabled === undefined ? {} : { enabled: operation.payload.enabled }),
      },
      identity: identity ? { id: identity.id, username: identity.username, email: identity.email, display_name: identity.display_name, status: identity.status, ...identity.attributes } : null,
      connector: { id: operation.connector_id, name: operation.connector_name, type: connector?.type ?? 'unknown' },
    };
    const versions =
      attemptNumber === 1 && (operation.payload.hook_versions ?? 'original') === 'original'
        ? FIRST_ATTEMPT_VERSIONS
        : await this.hooks.versionsOf(operation.tenant_id, operation.id, operation.payload.hook_versions);
    const before = await this.hooks.before(operation.tenant_id, context, logs, versions);
    if (before.kind === 'skip') return { uid: operation.target_uid, message: `skipped by a before hook: ${before.reason}`, skipped: true };
    if (before.kind === 'fail') throw new HookAbort(before.reason);
    const payload = { ...operation.payload };
    if (operation.operation_type === 'update') {
      payload.delta = { replace: before.attributes, remove: (payload.delta?.remove ?? []).filter((name) => !(name in before.attributes)) };
      payload.attributes = { ...(payload.attributes ?? {}), ...before.attributes };
    } else if (operation.operation_type === 'create') {
      payload.attributes = before.attributes;
    }
    const changed = { ...operation, payload };
    let result: CallResult;
    try {
      result = await this.call(changed, prefetched);
    } catch (error) {
      const failed = asConnectorError(error);
      await this.hooks.skipAfter(operation.tenant_id, { ...context, operation: { ...context.operation, attributes: before.attributes } }, `the connector call failed (${failed.code}: ${failed.message})`, versions, logs);
      throw error;
    }
    operation.payload = payload; // the link's hash is of what was written
    const afterContext: HookContext = { ...context, phase: 'after', operation: { ...context.operation, attributes: before.attributes, target_uid: result.uid }, result: { uid: result.uid, message: result.message } };
    const aborted = await this.hooks.after(operation.tenant_id, afterContext, logs, versions);
    if (aborted) throw new HookAbort(`${aborted} (the target was already changed: ${result.message})`, result);
    return result;
  }

  /** The identity the operation is about, as the claim read it (or read now). */
  private async identityOf(operation: OperationRow, prefetched?: Prefetched): Promise<ClaimedIdentity | undefined> {
    if (!operation.user_id) return undefined;
    if (prefetched) return prefetched.identity ?? undefined;
    return this.identities.find(this.db.read(operation.tenant_id), operation.user_id);
  }

  /** The connector's row (type, mapping), read at most every CONNECTOR_ROW_TTL_MS per connector. */
  private connectorRow(tenantId: string, connectorId: string): Promise<ConnectorRulesRow | undefined> {
    const key = `${tenantId}:${connectorId}`;
    const cached = this.connectorRows.get(key);
    if (cached && Date.now() - cached.at < CONNECTOR_ROW_TTL_MS) return cached.row;
    const row = this.operations.connector(this.db.read(tenantId), connectorId);
    this.connectorRows.set(key, { at: Date.now(), row });
    row.catch(() => this.connectorRows.delete(key));
    if (this.connectorRows.size > 10_000) this.connectorRows.clear();
    return row;
  }

  /** The batch claim (`claimMany`), one statement per tenant of the batch; null for each operation it did not claim. */
  private async claimBatch(items: { tenantId: string; operationId: string }[]): Promise<(ClaimedOperation | null)[]> {
    const open = this.circuits.all().map((circuit) => circuit.connectorId);
    const claimed = new Map<string, ClaimedOperation>();
    for (const [tenantId, ids] of groupBy(items, (item) => item.tenantId, (item) => item.operationId)) {
      for (const row of await this.operations.claimMany(this.db.statements(tenantId), [...new Set(ids)], open)) claimed.set(row.id, row);
    }
    // An id submitted twice in one batch is claimed for the first only; the other takes the one-at-a-time claim.
    return items.map((item) => {
      const row = claimed.get(item.operationId);
      claimed.delete(item.operationId);
      return row ?? null;
    });
  }

  /** Records successes together: per tenant, one transaction of `completeMany` and the `finished` events. */
  private async recordSuccesses(items: Success[]): Promise<RunOutcome[]> {
    const done = new Map<string, OperationRow>();
    for (const [tenantId, successes] of groupBy(items, (item) => item.operation.tenant_id, (item) => item)) {
      const rows = await this.db.transaction(tenantId, async (tx) => {
        const completed = await this.operations.completeMany(tx, successes.map((success) => this.completion(success)));
        if (completed.length) await tx.publish(completed.map((operation) => operationFinishedEvent(tx.tenantId, operation, 'completed')));
        return completed;
      });
      for (const row of rows) done.set(row.id, row);
    }
    return items.map(({ operation }) => {
      const row = done.get(operation.id);
      if (row) this.outcomes.inc({ outcome: 'completed', operation_type: operation.operation_type });
      return { kind: 'done', status: 'completed', operation: row };
    });
  }

  /** What a success records: its attempt, its link (as keepLinks keeps it), its log lines. */
  private completion({ operation, attemptId, result, logs }: Success): Completion {
    const base = { connector_id: operation.connector_id, object_class: operation.object_class, attributes_hash: attributesHash(operation.payload.attributes) };
    let link: Completion['link'] = null;
    if (!result.skipped && result.uid) {
      if (operation.user_id && operation.operation_type === 'create') link = { kind: 'upsert', identity_id: operation.user_id, external_uid: result.uid, ...base };
      if (operation.user_id && operation.operation_type === 'update') link = { kind: 'refresh', identity_id: operation.user_id, external_uid: null, ...base };
      if (operation.operation_type === 'delete') link = { kind: 'remove', identity_id: null, external_uid: result.uid, ...base };
    }
    return {
      id: operation.id,
      attempt_id: attemptId,
      target_uid: result.uid ?? operation.target_uid,
      link,
      logs: [...logs, { level: 'info', message: `completed: ${result.message}` }],
    };
  }

  private async claim(tenantId: string, operationId: string): Promise<{ kind: 'claimed'; operation: OperationRow; attemptId: string; attemptNumber: number } | { kind: 'not'; outcome: RunOutcome }> {
    const peek = await this.operations.find(this.db.read(tenantId), operationId);
    if (!peek) return { kind: 'not', outcome: { kind: 'done', status: 'gone' } };
    return this.db.transaction(tenantId, async (tx) => {
      if (peek.account_key) await this.operations.lockAccount(tx, peek.connector_id, peek.account_key);
      let operation = (await this.operations.lock(tx, operationId))!;
      if (operation.status === 'in_progress') {
        const abandoned = operation.started_at !== null && Date.now() - new Date(operation.started_at).getTime() > this.config.PROVISIONING_ABANDONED_AFTER_MS;
        if (!abandoned) return { kind: 'not', outcome: { kind: 'done', status: 'in_progress' } }; // another worker runs it
        operation = await this.takeBackAbandoned(tx, operation);
      }
      if (operation.status === 'failed' && operation.next_attempt_at !== null) {
        if (new Date(operation.next_attempt_at).getTime() > Date.now()) return { kind: 'not', outcome: { kind: 'retry', at: new Date(operation.next_attempt_at) } };
        operation = (await this.operations.transition(tx, operation.id, ['failed'], 'pending', { next_attempt_at: null }))!;
        await this.operations.log(tx, operation.id, 'info', `retry ${operation.retry_count} of ${operation.max_retries} due`);
      }
      if (operation.status !== 'pending') return { kind: 'not', outcome: { kind: 'done', status: operation.status, operation } };
      if (operation.account_key) {
        const open = await this.operations.openOnAccount(tx, operation.connector_id, operation.account_key, operation.id);
        if (open.some((other) => other.status === 'in_progress' || isEarlier(other, operation))) return { kind: 'not', outcome: { kind: 'blocked', connectorId: operation.connector_id, accountKey: operation.account_key } };
      }
      const attemptNumber = await this.operations.nextAttemptNumber(tx, operation.id);
      const running = (await this.operations.transition(tx, operation.id, ['pending'], 'in_progress', { started_at: new Date() }))!;
      const circuit = this.circuits.state(operation.connector_id);
      if (circuit) {
        // The target is known to be down: the operation waits without a call (and without spending a retry).
        const waiting = await this.operations.transition(tx, operation.id, ['in_progress'], 'awaiting_system', { error_message: circuit.lastError });
        await this.operations.log(tx, operation.id, 'warn', `awaiting the target: the connector's circuit is open since ${circuit.openedAt.toISOString()} (${circuit.lastError})`);
        this.outcomes.inc({ outcome: 'awaiting_system', operation_type: operation.operation_type });
        return { kind: 'not', outcome: { kind: 'done', status: 'awaiting_system', operation: waiting } };
      }
      const attempt = await this.operations.startAttempt(tx, operation.id, attemptNumber);
      await this.operations.log(tx, operation.id, 'info', `attempt ${attemptNumber} started`);
      return { kind: 'claimed', operation: running, attemptId: attempt.id, attemptNumber };
    });
  }

  /** An attempt whose process died mid-call: it is closed as failed and the operation goes back to pending (no retry spent). */
  private async takeBackAbandoned(tx: TenantTransaction, operation: OperationRow): Promise<OperationRow> {
    const attempt = await this.operations.unfinishedAttempt(tx, operation.id);
    if (attempt) await this.operations.finishAttempt(tx, attempt.id, { success: false, error_code: 'abandoned', error_message: 'the process running the attempt stopped before recording it' });
    await this.operations.transition(tx, operation.id, ['in_progress'], 'failed', { error_message: 'attempt abandoned by a stopped process', next_attempt_at: new Date() });
    await this.operations.log(tx, operation.id, 'warn', `attempt ${attempt?.attempt_number ?? '?'} abandoned (its process stopped); running it again`);
    return (await this.operations.find(tx, operation.id))!;
  }

  /** The connector call itself. Idempotent where the target allows: a create that finds its account already there adopts it. */
  private async call(operation: OperationRow, prefetched?: Prefetched): Promise<CallResult> {
    const payload = operation.payload;
    if (payload.missing?.length) throw new ConnectorError(ConnectorErrorCode.InvalidAttribute, `the mapping leaves required attributes empty: ${payload.missing.join(', ')}`);
    const connector = await this.pool.get(operation.tenant_id, operation.connector_id);
    const objectClass = operation.object_class as ObjectClass;
    const linkUid = prefetched
      ? prefetched.linkUid
      : operation.user_id
        ? ((await this.operations.link(this.db.read(operation.tenant_id), operation.user_id, operation.connector_id, operation.object_class))?.external_uid ?? null)
        : null;
    const uid = operation.target_uid ?? linkUid ?? null;
    switch (operation.operation_type) {
      case 'create': {
        const attributes = payload.attributes ?? {};
        let created: string;
        let how = 'created';
        if (uid) {
          await this.write(connector, { kind: 'update', objectClass, uid, delta: { replace: attributes, remove: [] } });
          created = uid;
          how = 'existed (linked); attributes written';
        } else {
          try {
            const object = await this.write(connector, { kind: 'create', objectClass, attributes });
            if (!object) throw new ConnectorError(ConnectorErrorCode.InvalidResponse, 'the target created the account but did not say its uid');
            created = object.uid;
          } catch (error) {
            if (!isConnectorError(error) || error.code !== ConnectorErrorCode.AlreadyExists) throw error;
            const existing = await this.correlate(connector, objectClass, attributes);
            if (!existing) throw error;
            await connector.update(objectClass, existing, { replace: attributes, remove: [] });
            created = existing;
            how = 'existed already (adopted); attributes written';
          }
        }
        if (payload.enabled === false) await connector.disable(objectClass, created);
        return { uid: created, message: `account ${how}: ${created}${payload.enabled === false ? ', disabled' : ''}` };
      }
      case 'update': {
        if (!uid) throw new ConnectorError(ConnectorErrorCode.NotFound, 'no account to update: the identity has no account link on this connector');
        const steps: string[] = [];
        if (payload.delta && !isEmptyDelta(payload.delta)) {
          await this.write(connector, { kind: 'update', objectClass, uid, delta: payload.delta });
          steps.push(`attributes changed (${[...Object.keys(payload.delta.replace), ...payload.delta.remove].join(', ')})`);
        }
        if (payload.enabled === true) {
          await connector.enable(objectClass, uid);
          steps.push('enabled');
        } else if (payload.enabled === false) {
          await connector.disable(objectClass, uid);
          steps.push('disabled');
        }
        return { uid, message: `account ${uid}: ${steps.join(', ') || 'nothing to change'}` };
      }
      case 'delete': {
        if (!uid) return { uid: null, message: 'no account to delete (the identity has no account link on this connector)' };
        try {
          await this.write(connector, { kind: 'delete', objectClass, uid });
        } catch (error) {
          if (isConnectorError(error) && error.code === ConnectorErrorCode.NotFound) return { uid, message: `account ${uid} was already gone` };
          throw error;
        }
        return { uid, message: `account ${uid} deleted` };
      }
    }
  }

  /**
   * One write, sent with the writes of other operations on the same connector that reach this step
   * meanwhile (WRITE_BATCH): the answer is this write's own outcome, its error thrown as the single call's
   * would be. Two operations of one account never run at once, so a batch never reorders an account's writes.
   */
  private async write(connector: Connector, operation: WriteOperation): Promise<TargetObject | undefined> {
    let batcher = this.writes.get(connector);
    if (!batcher) this.writes.set(connector, (batcher = new Batcher((operations) => connector.writeBatch(operations), WRITE_BATCH)));
    const outcome = await batcher.submit(operation);
    if (!outcome.ok) throw outcome.error;
    return outcome.object;
  }

  private async correlate(connector: Connector, objectClass: ObjectClass, attributes: Attributes): Promise<string | null> {
    for (const attribute of CORRELATION_ATTRIBUTES) {
      const value = attributes[attribute];
      if (typeof value !== 'string' || value === '') continue;
      for await (const page of connector.search(objectClass, { filter: { op: 'eq', attribute, value }, pageSize: 2 })) {
        if (page.objects.length === 1) return page.objects[0].uid;
        return null;
      }
    }
    return null;
  }

  private async succeeded(tx: TenantTransaction, operation: OperationRow, attemptId: string, result: CallResult): Promise<RunOutcome> {
    await this.operations.finishAttempt(tx, attemptId, { success: true, error_code: null, error_message: null });
    await this.keepLinks(tx, operation, result);
    const done = await this.operations.transition(tx, operation.id, ['in_progress'], 'completed', { completed_at: new Date(), target_uid: result.uid ?? operation.target_uid, error_message: null });
    await this.operations.log(tx, operation.id, 'info', `completed: ${result.message}`);
    await tx.publish(operationFinishedEvent(tx.tenantId, operation, 'completed'));
    this.outcomes.inc({ outcome: 'completed', operation_type: operation.operation_type });
    return { kind: 'done', status: 'completed', operation: done };
  }

  /** The account link follows what the call did: created (create), refreshed (update), removed (delete). */
  private async keepLinks(tx: TenantTransaction, operation: OperationRow, result: CallResult): Promise<void> {
    if (result.skipped || !result.uid) return; // no call was made, or nothing to link
    const hash = attributesHash(operation.payload.attributes);
    if (operation.user_id && operation.operation_type === 'create') await this.operations.upsertLink(tx, operation.user_id, operation.connector_id, operation.object_class, result.uid, hash);
    if (operation.user_id && operation.operation_type === 'update') await this.operations.refreshLink(tx, operation.user_id, operation.connector_id, operation.object_class, hash);
    if (operation.operation_type === 'delete') await this.operations.removeLink(tx, operation.connector_id, operation.object_class, result.uid);
  }

  private async failed(tx: TenantTransaction, operation: OperationRow, attemptId: string, error: Failure): Promise<RunOutcome> {
    const message = `${error.code}: ${error.message}`.slice(0, 2000);
    await this.operations.finishAttempt(tx, attemptId, { success: false, error_code: error.code, error_message: error.message });
    if (error.targetDown) {
      this.circuits.trip(operation.tenant_id, operation.connector_id, message);
      const waiting = await this.operations.transition(tx, operation.id, ['in_progress'], 'awaiting_system', { error_message: message });
      await this.operations.log(tx, operation.id, 'warn', `the target is unavailable (${message}): awaiting it; no retry spent`);
      this.outcomes.inc({ outcome: 'awaiting_system', operation_type: operation.operation_type });
      return { kind: 'done', status: 'awaiting_system', operation: waiting };
    }
    const rateLimited = error.rateLimited;
    if (error.transient && (rateLimited || operation.retry_count < operation.max_retries)) {
      const retryCount = rateLimited ? operation.retry_count : operation.retry_count + 1;
      const delay = retryDelayMs(operation.retry_count, { baseMs: this.config.PROVISIONING_RETRY_BASE_MS, maxMs: this.config.PROVISIONING_RETRY_MAX_MS, retryAfterMs: error.retryAfterMs });
      const at = new Date(Date.now() + delay);
      await this.operations.transition(tx, operation.id, ['in_progress'], 'failed', { error_message: message, retry_count: retryCount, next_attempt_at: at });
      await this.operations.log(
        tx,
        operation.id,
        'warn',
        rateLimited
          ? `rate limited by the target (${message}); next attempt at ${at.toISOString()}, no retry spent`
          : `transient failure (${message}); retry ${retryCount} of ${operation.max_retries} at ${at.toISOString()}`,
      );
      this.outcomes.inc({ outcome: rateLimited ? 'rate_limited' : 'retry', operation_type: operation.operation_type });
      return { kind: 'retry', at };
    }
    // Permanent, or out of retries: failed, then the dead-letter queue.
    await this.operations.transition(tx, operation.id, ['in_progress'], 'failed', { error_message: message, next_attempt_at: null });
    const dead = await this.operations.transition(tx, operation.id, ['failed'], 'dead_letter', {});
    await this.operations.log(
      tx,
      operation.id,
      'error',
      error.transient ? `failed (${message}) after ${operation.retry_count} retries: dead letter` : `failed permanently (${message}): dead letter, not retried`,
    );
    await tx.publish({
      topic: Topic.ProvisioningOperationsDlq,
      key: messageKey.tenantAccount(tx.tenantId, operation.account_key ?? operation.id),
      event: createCloudEvent({
        source: OPERATION_SOURCE,
        type: EventType.OperationDeadLettered,
        tenantid: tx.tenantId,
        subject: operation.id,
        data: {
          operation_id: operation.id,
          connector_id: operation.connector_id,
          connector_name: operation.connector_name,
          user_id: operation.user_id,
          operation_type: operation.operation_type,
          error_code: error.code,
          error_message: message,
          retry_count: operation.retry_count,
        },
      }),
    });
    await tx.publish(operationFinishedEvent(tx.tenantId, operation, 'dead_letter', { code: error.code, message }));
    this.outcomes.inc({ outcome: 'dead_letter', operation_type: operation.operation_type });
    return { kind: 'done', status: 'dead_letter', operation: dead };
  }
}

/** A hook stopped the operation (abort policy, or `{ fail }`); `result` when the target had already been changed (an after hook). */
class HookAbort extends Error {
  constructor(
    message: string,
    readonly result?: CallResult,
  ) {
    super(message);
  }
}

function groupBy<T, V>(items: T[], key: (item: T) => string, value: (item: T) => V): Map<string, V[]> {
  const groups = new Map<string, V[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(value(item));
    else groups.set(k, [value(item)]);
  }
  return groups;
}

function isEarlier(other: OperationRow, operation: OperationRow): boolean {
  const a = new Date(other.created_at).getTime();
  const b = new Date(operation.created_at).getTime();
  return a < b || (a === b && other.id < operation.id);
}
