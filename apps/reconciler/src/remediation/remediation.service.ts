import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { createCloudEvent, EventType, messageKey, OperationRequested, Topic } from '@provisio/contracts';
import { subjectsOf, TenantDatabase, TenantScoped, TenantTransaction } from '@provisio/persistence';
import { ConflictError, DomainError, NotFoundError, OutboxEntry, Page, page, Principal, SqlFilters, toStorableText, ValidationError } from '@provisio/platform';
import { TargetConnectors, TargetDefinition } from '../common/target-connectors';
import { RECONCILER_SOURCE } from '../runs/run-finished';
import type { RunRow } from '../runs/runs.repository';
import {
  BulkRemediateDto,
  BulkRemediationDto,
  ListActionsQueryDto,
  ListResultsQueryDto,
  ReconciliationActionDto,
  RemediateDto,
  RemediationOutcomeDto,
  RemediationResultDto,
} from './dtos/remediation.dto';
import { IdentityStoreRepository } from './identity-store.repository';
import { identityFromAccount, identityPathOf, planRemediation, RemediationChoice, RemediationRefused, setPath } from './remediation-plan';
import { ActionRow, RemediableRow, RemediationRepository, ResultRow } from './remediation.repository';

/** Discrepancies remediated per transaction (bulk and runs). */
const BATCH = 200;
const DEFAULT_BULK_LIMIT = 10_000;
/** Identity columns' lengths: a longer value from a target is refused rather than failing the write. */
const FIELD_LIMITS: Record<string, number> = { username: 255, email: 320, display_name: 255 };

/** Who acts: a caller (its users row and subject) or a run (whoever started it; null for a schedule). */
interface Actor {
  actorId: number | null;
  subject: string | null;
}

/** What one remediation did (or, dry, would do). */
interface Applied {
  status: 'pending' | 'succeeded' | 'failed' | 'would_apply';
  action_id: string;
  changes: Record<string, unknown>;
  error: string | null;
  result: ResultRow | null;
}

/** What an action will write, worked out before anything is written (a refusal writes nothing). */
type Prepared = { kind: 'operation'; request: Omit<OperationRequested, 'request_id'>; changes: Record<string, unknown>; dropStaleLink: boolean } | { kind: 'store'; changes: Record<string, unknown>; write: (tx: TenantTransaction) => Promise<void> };

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

export function resultDto(row: ResultRow): RemediationResultDto {
  return { ...row, created_at: iso(row.created_at)!, completed_at: iso(row.completed_at) };
}

/**
 * Remediation of discrepancies (docs/reconciliation.md, "Remediation"): one at a time or in bulk by
 * the API, and a run's own after its guard rail. Toward a target (xavyo_to_target) it asks the
 * provisioning queue for an operation through the outbox (`provisio.operation.requested`, the
 * operation id chosen here) and leaves the result `pending` until the queue announces the operation's
 * end (OperationOutcomesConsumer); toward Provisio (target_to_xavyo) it writes the identity store in the
 * transaction that records the result. Every action, dry runs and `ignore` included, is a
 * ReconciliationAction row; each discrepancy gets at most one result (a failed one may be retried).
 */
@Injectable()
export class RemediationService {
  private readonly logger = new Logger(RemediationService.name);

  constructor(
    private readonly db: TenantDatabase,
    private readonly repo: RemediationRepository,
    private readonly store: IdentityStoreRepository,
    private readonly targets: TargetConnectors,
  ) {}

  async remediateOne(principal: Principal, id: string, body: RemediateDto): Promise<RemediationOutcomeDto> {
    return this.db.write(principal, async (tx) => {
      const discrepancy = await this.repo.lock(tx, id);
      if (!discrepancy) throw new NotFoundError('discrepancy', id);
      if (discrepancy.resolution_status !== 'pending') throw new ConflictError(`the discrepancy is ${discrepancy.resolution_status}`, 'resolution_status');
      if (discrepancy.result_status && discrepancy.result_status !== 'failed') throw new ConflictError(`the discrepancy has a ${discrepancy.result_status} remediation already`, 'id');
      const choice = planRemediation(discrepancy, body);
      const targets = new BatchContext(this.targets, tx);
      const applied = await this.apply(tx, discrepancy, choice, { actorId: tx.actorId, subject: principal.subject }, body.dry_run, targets, false);
      await tx.publish(targets.requests);
      if (!applied) throw new ConflictError('the discrepancy was remediated meanwhile', 'id');
      if (applied.status === 'failed') throw new ConflictError(applied.error ?? 'remediation failed', 'action');
      return { discrepancy_id: id, dry_run: body.dry_run, action: choice.action, direction: choice.direction, action_id: applied.action_id, status: applied.status, error: applied.error, changes: applied.changes, result: applied.result && resultDto(applied.result) };
    });
  }

  async ignore(principal: Principal, id: string, reason: string | undefined): Promise<{ discrepancy_id: string; resolution_status: 'ignored'; action_id: string }> {
    return this.db.write(principal, async (tx) => {
      const discrepancy = await this.repo.lock(tx, id);
      if (!discrepancy) throw new NotFoundError('discrepancy', id);
      if (discrepancy.resolution_status !== 'pending') throw new ConflictError(`the discrepancy is ${discrepancy.resolution_status}`, 'resolution_status');
      if (discrepancy.result_status === 'pending') throw new ConflictError('the discrepancy has a pending remediation', 'id');
      await this.repo.resolve(tx, id, 'ignored', tx.actorId);
      const actionId = await this.repo.insertAction(tx, {
        connector_id: discrepancy.connector_id,
        run_id: discrepancy.run_id,
        discrepancy_id: id,
        action_type: 'ignore',
        result: 'ignored',
        dry_run: false,
        performed_by: tx.actorId,
        details: { discrepancy_type: discrepancy.discrepancy_type, reason: reason === undefined ? null : toStorableText(reason) },
      });
      return { discrepancy_id: id, resolution_status: 'ignored' as const, action_id: actionId };
    });
  }

  /** Bulk by filter: each matching discrepancy at most once, in batches of one transaction each. */
  async bulk(principal: Principal, body: BulkRemediateDto): Promise<BulkRemediationDto> {
    if (!body.run_id && !body.connector_id) throw new ValidationError('bulk remediation needs run_id or connector_id', 'run_id');
    const filters = (after: string | null) => {
      const f = new SqlFilters('d.tenant_id');
      if (body.run_id) f.add('d.run_id = ?', body.run_id);
      if (body.connector_id) f.add('d.connector_id = ?', body.connector_id);
      if (body.discrepancy_type) f.add('d.discrepancy_type = ?', body.discrepancy_type);
      if (body.attribute_name) f.add('d.attribute_name = ?', toStorableText(body.attribute_name));
      if (body.identity_id) f.add('d.identity_id = ?', body.identity_id);
      if (body.external_uid) f.add('d.external_uid = ?', toStorableText(body.external_uid));
      if (after) f.add('d.id > ?', after);
      return f;
    };
    const asked = { action: body.action, direction: body.direction };
    const totals: BulkRemediationDto = { matched: 0, succeeded: 0, pending: 0, failed: 0, would_apply: 0, dry_run: body.dry_run, by_action: {} };
    let after: string | null = null;
    let left = body.limit ?? DEFAULT_BULK_LIMIT;
    while (left > 0) {
      const done: number = await this.db.write(principal, async (tx) => {
        const rows = await this.repo.lockRemediable(tx, filters(after), Math.min(BATCH, left), !body.action);
        const targets = new BatchContext(this.targets, tx);
        for (const row of rows) {
          after = row.id;
          const applied = await this.applyOrRecordRefusal(tx, row, asked, { actorId: tx.actorId, subject: principal.subject }, body.dry_run, targets);
          if (!applied) continue;
          totals.matched += 1;
          totals[applied.status] += 1;
          if (applied.status !== 'failed') totals.by_action[applied.action] = (totals.by_action[applied.action] ?? 0) + 1;
        }
        await tx.publish(targets.requests);
        return rows.length;
      });
      left -= done;
      if (done < BATCH) break;
    }
    return totals;
  }

  /**
   * A run's remediation phase: every pending discrepancy of the run that has a default action gets it
   * (after the guard rail passed or was approved), in batches; `fence` is called in each batch's
   * transaction and throws when the run is no longer this worker's (the batch rolls back). Idempotent:
   * a resumed run skips what has a result. A dry run remediates nothing (its report shows what it would do).
   */
  async remediateRun(run: RunRow, fence: (tx: TenantTransaction) => Promise<void>): Promise<{ remediated: number }> {
    if (run.dry_run) return { remediated: 0 };
    const actor = { actorId: run.created_by, subject: run.created_by_subject ?? null };
    let after: string | null = null;
    let remediated = 0;
    for (;;) {
      const count: number = await this.db.transaction(run.tenant_id, async (tx) => {
        await fence(tx);
        const filters = new SqlFilters('d.tenant_id').add('d.run_id = ?', run.id);
        if (after) filters.add('d.id > ?', after);
        const rows = await this.repo.lockRemediable(tx, filters, BATCH, true);
        const targets = new BatchContext(this.targets, tx);
        for (const row of rows) {
          after = row.id;
          if (await this.applyOrRecordRefusal(tx, row, {}, actor, false, targets)) remediated += 1;
        }
        await tx.publish(targets.requests);
        return rows.length;
      });
      if (count < BATCH) break;
    }
    if (remediated) this.logger.log({ message: 'run remediated', run_id: run.id, remediated });
    return { remediated };
  }

  /** Bulk and runs: a refusal (the action does not fit this discrepancy) is recorded as a failed result rather than stopping the rest. */
  private async applyOrRecordRefusal(tx: TenantTransaction, row: RemediableRow, asked: Partial<RemediationChoice>, actor: Actor, dryRun: boolean, targets: BatchContext): Promise<(Applied & { action: string }) | null> {
    let choice: RemediationChoice;
    try {
      choice = planRemediation(row, asked);
    } catch (error) {
      if (!(error instanceof RemediationRefused)) throw error;
      if (dryRun) return null; // a dry run leaves no trace of what it would not do
      const action = asked.action ?? 'update';
      const applied = await this.recordFailure(tx, row, { action, direction: asked.direction ?? 'xavyo_to_target' }, actor, error.message);
      return applied && { ...applied, action };
    }
    const applied = await this.apply(tx, row, choice, actor, dryRun, targets, true);
    return applied && { ...applied, action: choice.action };
  }

  /**
   * One remediation: the audit row, then (not dry) the identity store write or the operation request,
   * and the result. `tolerant` (bulk, runs): a domain refusal found while preparing becomes a failed
   * result; otherwise it is thrown (the API's 4xx). Null when another transaction gave the discrepancy
   * a result meanwhile (nothing is written).
   */
  private async apply(tx: TenantTransaction, row: RemediableRow, choice: RemediationChoice, actor: Actor, dryRun: boolean, targets: BatchContext, tolerant: boolean): Promise<Applied | null> {
    let prepared: Prepared;
    try {
      prepared = await this.prepare(tx, row, choice, targets);
    } catch (error) {
      if (!tolerant || !(error instanceof DomainError)) throw error;
      if (dryRun) {
        const actionId = await this.audit(tx, row, choice, actor, true, 'refused', { error: error.message });
        return { status: 'failed', action_id: actionId, changes: {}, error: error.message, result: null };
      }
      return this.recordFailure(tx, row, choice, actor, error.message);
    }
    if (dryRun) {
      const actionId = await this.audit(tx, row, choice, actor, true, 'dry_run', { would: prepared.changes });
      return { status: 'would_apply', action_id: actionId, changes: prepared.changes, error: null, result: null };
    }
    const toTarget = prepared.kind === 'operation';
    const actionId = await this.audit(tx, row, choice, actor, false, toTarget ? 'requested' : 'succeeded', { changes: prepared.changes });
    const operationId = prepared.kind === 'operation' ? prepared.request.operation_id : null;
    const result = await this.repo.saveResult(tx, {
      discrepancy_id: row.id,
      connector_id: row.connector_id,
      run_id: row.run_id,
      action_id: actionId,
      action: choice.action,
      direction: choice.direction,
      status: toTarget ? 'pending' : 'succeeded',
      error: null,
      changes: prepared.changes,
      operation_id: operationId,
    });
    if (!result) {
      await tx.execute('DELETE FROM reconciliation_actions WHERE tenant_id = $1 AND id = $2', [actionId]);
      return null;
    }
    if (prepared.kind === 'operation') {
      if (prepared.dropStaleLink && row.external_uid) await this.store.unlink(tx, row.connector_id, row.external_uid);
      const request: OperationRequested = { ...prepared.request, request_id: actionId };
      targets.requests.push({
        topic: Topic.RemediationRequests,
        key: messageKey.tenantAccount(tx.tenantId, request.user_id ?? `uid:${request.target_uid}`),
        event: createCloudEvent({ id: actionId, source: RECONCILER_SOURCE, type: EventType.OperationRequested, tenantid: tx.tenantId, subject: request.operation_id, data: request }),
      });
    } else {
      await prepared.write(tx);
      await this.repo.resolve(tx, row.id, 'resolved', actor.actorId);
    }
    return { status: toTarget ? 'pending' : 'succeeded', action_id: actionId, changes: prepared.changes, error: null, result };
  }

  private async recordFailure(tx: TenantTransaction, row: RemediableRow, choice: RemediationChoice, actor: Actor, error: string): Promise<Applied | null> {
    const actionId = await this.audit(tx, row, choice, actor, false, 'failed', { error });
    const result = await this.repo.saveResult(tx, {
      discrepancy_id: row.id,
      connector_id: row.connector_id,
      run_id: row.run_id,
      action_id: actionId,
      action: choice.action,
      direction: choice.direction,
      status: 'failed',
      error,
      changes: {},
      operation_id: null,
    });
    if (!result) {
      await tx.execute('DELETE FROM reconciliation_actions WHERE tenant_id = $1 AND id = $2', [actionId]);
      return null;
    }
    return { status: 'failed', action_id: actionId, changes: {}, error, result };
  }

  private audit(tx: TenantTransaction, row: RemediableRow, choice: RemediationChoice, actor: Actor, dryRun: boolean, result: string, details: Record<string, unknown>): Promise<string> {
    return this.repo.insertAction(tx, {
      connector_id: row.connector_id,
      run_id: row.run_id,
      discrepancy_id: row.id,
      action_type: choice.action,
      result,
      dry_run: dryRun,
      performed_by: actor.actorId,
      details: { direction: choice.direction, discrepancy_type: row.discrepancy_type, ...details },
    });
  }

  /** Works out what the action will change and checks it can; writes nothing. */
  private async prepare(tx: TenantTransaction, row: RemediableRow, choice: RemediationChoice, targets: BatchContext): Promise<Prepared> {
    const connectorId = row.connector_id;
    if (choice.direction === 'xavyo_to_target') {
      const base = { operation_id: randomUUID(), connector_id: connectorId, run_id: row.run_id, discrepancy_id: row.id, requested_by: null };
      if (choice.action === 'delete') {
        const link = await this.store.linkOf(tx, connectorId, { external_uid: row.external_uid! });
        const request = { ...base, operation_type: 'delete' as const, user_id: link?.identity_id ?? null, target_uid: row.external_uid! };
        return { kind: 'operation', request, changes: { operation: 'delete', operation_id: base.operation_id, target_uid: row.external_uid, user_id: request.user_id }, dropStaleLink: false };
      }
      // The identity exists: removing it sets the discrepancy's identity_id to NULL, which waits for the discrepancy's row lock this transaction holds.
      const identityId = row.identity_id!;
      if (choice.action === 'create') {
        // A `deleted` discrepancy's link names an account that is gone: the create makes a new one, linked anew.
        const stale = row.discrepancy_type === 'deleted';
        const request = { ...base, operation_type: 'create' as const, user_id: identityId, target_uid: null };
        return { kind: 'operation', request, changes: { operation: 'create', operation_id: base.operation_id, user_id: identityId, ...(stale ? { stale_link_removed: row.external_uid } : {}) }, dropStaleLink: stale };
      }
      const link = await this.store.linkOf(tx, connectorId, { identity_id: identityId });
      if (!link) throw new ConflictError(`identity ${identityId} has no account on the connector to update`, 'action');
      const request = { ...base, operation_type: 'update' as const, user_id: identityId, target_uid: link.external_uid };
      return { kind: 'operation', request, changes: { operation: 'update', operation_id: base.operation_id, user_id: identityId, target_uid: link.external_uid, attribute: row.attribute_name }, dropStaleLink: false };
    }

    switch (choice.action) {
      case 'link': {
        const identityId = choice.identity_id!;
        const identity = await this.store.lockIdentity(tx, identityId);
        if (!identity) throw new ConflictError(`identity ${identityId} not found`, 'identity_id');
        const owner = await this.store.linkOf(tx, connectorId, { external_uid: row.external_uid! });
        if (owner) throw new ConflictError(`account ${row.external_uid} is linked to identity ${owner.identity_id} already`, 'external_uid');
        const held = await this.store.linkOf(tx, connectorId, { identity_id: identityId });
        if (held) throw new ConflictError(`identity ${identityId} is linked to account ${held.external_uid} on this connector already`, 'identity_id');
        return { kind: 'store', changes: { linked: { identity_id: identityId, external_uid: row.external_uid } }, write: (t) => this.store.link(t, connectorId, identityId, row.external_uid!) };
      }
      case 'unlink': {
        const owner = await this.store.linkOf(tx, connectorId, { external_uid: row.external_uid! });
        if (!owner) throw new ConflictError(`account ${row.external_uid} has no link`, 'external_uid');
        return { kind: 'store', changes: { unlinked: { identity_id: owner.identity_id, external_uid: row.external_uid } }, write: async (t) => void (await this.store.unlink(t, connectorId, row.external_uid!)) };
      }
      case 'inactivate_identity': {
        const identity = await this.store.lockIdentity(tx, row.identity_id!);
        if (!identity) throw new ConflictError(`identity ${row.identity_id} no longer exists`, 'identity_id');
        return { kind: 'store', changes: { identity_id: identity.id, status: { from: identity.status, to: 'inactive' } }, write: (t) => this.store.setStatus(t, identity.id, 'inactive') };
      }
      case 'update': {
        const identity = await this.store.lockIdentity(tx, row.identity_id!);
        if (!identity) throw new ConflictError(`identity ${row.identity_id} no longer exists`, 'identity_id');
        const target = await targets.get(connectorId);
        const path = identityPathOf(target.mapping, row.attribute_name!);
        if (!path) throw new RemediationRefused(`attribute ${row.attribute_name} is not mapped from one identity field without transforms: it cannot be written back`, 'direction');
        const value = row.actual_value;
        if (path === 'username' && (value === null || value === '')) throw new RemediationRefused('the account has no value for the username', 'direction');
        if (path in FIELD_LIMITS && value !== null && value.length > FIELD_LIMITS[path]) throw new RemediationRefused(`the account's ${row.attribute_name} is longer than ${path} allows (${FIELD_LIMITS[path]})`, 'direction');
        if (path === 'username' && value !== identity.username && (await this.store.identityByUsername(tx, value!))) throw new ConflictError(`an identity with username ${value} exists`, 'username');
        const from = path.startsWith('attributes.') ? readPath(identity.attributes, path.slice(11).split('.')) : identity[path as 'username' | 'email' | 'display_name'];
        const changes = { identity_id: identity.id, field: path, from: from ?? null, to: value };
        if (!path.startsWith('attributes.')) return { kind: 'store', changes, write: (t) => this.store.setField(t, identity.id, path as 'username' | 'email' | 'display_name', value) };
        const attributes = structuredClone(identity.attributes ?? {});
        setPath(attributes, path.slice(11).split('.'), value);
        return { kind: 'store', changes, write: (t) => this.store.setField(t, identity.id, 'attributes', attributes) };
      }
      case 'create': {
        const target = await targets.get(connectorId);
        const account = await targets.account(target, row.external_uid!);
        if (!account) throw new ConflictError(`account ${row.external_uid} is no longer in the target`, 'external_uid');
        const identity = identityFromAccount(target.mapping, row.external_uid!, account.attributes);
        for (const [field, limit] of Object.entries(FIELD_LIMITS)) {
          const value = identity[field as 'username' | 'email' | 'display_name'];
          if (value !== null && value.length > limit) throw new RemediationRefused(`the account's value for ${field} is longer than ${limit}`, 'direction');
        }
        if (await this.store.identityByUsername(tx, identity.username)) throw new ConflictError(`an identity with username ${identity.username} exists`, 'username');
        if (await this.store.linkOf(tx, connectorId, { external_uid: row.external_uid! })) throw new ConflictError(`account ${row.external_uid} is linked already`, 'external_uid');
        const changes: Record<string, unknown> = { identity: identity, linked: { external_uid: row.external_uid } };
        return {
          kind: 'store',
          changes,
          write: async (t) => {
            const id = await this.store.insertIdentity(t, identity);
            changes.identity_id = id;
            await this.store.link(t, connectorId, id, row.external_uid!);
          },
        };
      }
      default:
        throw new RemediationRefused(`${choice.action} cannot be done ${choice.direction}`, 'direction');
    }
  }

  // ---- reads ----------------------------------------------------------------------------------

  async results(principal: Principal, query: ListResultsQueryDto): Promise<Page<RemediationResultDto>> {
    const filters = new SqlFilters();
    for (const key of ['run_id', 'connector_id', 'discrepancy_id', 'operation_id', 'status', 'action', 'direction'] as const) if (query[key]) filters.add(`${key} = ?`, query[key]);
    const { rows, total } = await this.repo.listResults(this.db.read(principal), filters, query);
    return page(rows.map(resultDto), total, query);
  }

  async result(principal: Principal, id: string): Promise<RemediationResultDto> {
    const row = await this.repo.findResult(this.db.read(principal), id);
    if (!row) throw new NotFoundError('remediation result', id);
    return resultDto(row);
  }

  async actions(principal: Principal, query: ListActionsQueryDto): Promise<Page<ReconciliationActionDto>> {
    const filters = new SqlFilters();
    for (const key of ['run_id', 'connector_id', 'discrepancy_id'] as const) if (query[key]) filters.add(`${key} = ?`, query[key]);
    if (query.action_type) filters.add('action_type = ?', toStorableText(query.action_type));
    if (query.dry_run !== undefined) filters.add('dry_run = ?', query.dry_run);
    const db = this.db.read(principal);
    const { rows, total } = await this.repo.listActions(db, filters, query);
    return page(await this.actionDtos(db, rows), total, query);
  }

  async action(principal: Principal, id: string): Promise<ReconciliationActionDto> {
    const db = this.db.read(principal);
    const row = await this.repo.findAction(db, id);
    if (!row) throw new NotFoundError('reconciliation action', id);
    return (await this.actionDtos(db, [row]))[0];
  }

  private async actionDtos(db: TenantScoped, rows: ActionRow[]): Promise<ReconciliationActionDto[]> {
    const subjects = await subjectsOf(db, rows.map((r) => r.performed_by).filter((id): id is number => id !== null));
    return rows.map((r) => ({ ...r, performed_by: r.performed_by === null ? null : (subjects.get(r.performed_by) ?? null), performed_at: iso(r.performed_at)! }));
  }
}

function readPath(value: unknown, keys: string[]): unknown {
  return keys.reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), value);
}

/**
 * What the remediations of one transaction share: the connector definitions (and, for a create toward
 * Provisio, the account read through the connector), and the operation requests, published together
 * once the transaction's remediations are done (one outbox statement rather than one per discrepancy).
 */
class BatchContext {
  private readonly definitions = new Map<string, Promise<TargetDefinition>>();
  readonly requests: OutboxEntry[] = [];

  constructor(
    private readonly targets: TargetConnectors,
    private readonly db: TenantScoped,
  ) {}

  get(connectorId: string): Promise<TargetDefinition> {
    let definition = this.definitions.get(connectorId);
    if (!definition) this.definitions.set(connectorId, (definition = this.targets.definition(this.db, connectorId)));
    return definition;
  }

  /** Reads one account (a read, never a change: changes to a target go through the provisioning queue). */
  async account(target: TargetDefinition, uid: string): Promise<{ attributes: Record<string, unknown> } | null> {
    const connector = this.targets.build(target.row);
    try {
      return await connector.get('account', uid);
    } finally {
      await connector.close().catch(() => undefined);
    }
  }
}
