import { Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';
import type { TenantTransaction } from '@provisio/persistence';
import { Metrics } from '@provisio/platform';
import { OperationPlanner } from '../operations/operation-planner.service';
import type { IdentityRow } from './identities.repository';

/** What caused an identity change: an API caller, or an upstream domain event. */
export type IdentityChangeCause = { kind: 'api'; subject: string } | { kind: 'event'; event_id: string; source: string; type: string };

/**
 * One change of one identity: `before` is null for a creation, `after` null for a removal (an API
 * delete). A `user.deleted` event is an update whose `after.status` is `deleted`.
 */
export interface IdentityChange {
  before: IdentityRow | null;
  after: IdentityRow | null;
  cause: IdentityChangeCause;
}

export type IdentityChangeKind = 'created' | 'updated' | 'deleted' | 'removed';

export function kindOf(change: IdentityChange): IdentityChangeKind {
  if (!change.before) return 'created';
  if (!change.after) return 'removed';
  return change.after.status === 'deleted' && change.before.status !== 'deleted' ? 'deleted' : 'updated';
}

/**
 * THE place every identity change goes through — the identities API and the domain-event consumer call
 * `recorded` for each change that altered a row, inside the transaction that made it, with the row
 * before and after. The provisioning operations the change causes (one per connector whose policy
 * covers the identity: create, update, delete; OperationPlanner) are created here, in the same
 * transaction, so a change and its operations commit together. Changes are counted
 * (`provisio_identity_changes_total`; counted when recorded, so a transaction that then rolls back —
 * a consumer batch re-applied event by event after a poison message — may count a change twice).
 */
@Injectable()
export class IdentityChangesService {
  private readonly changes: Counter<'kind' | 'cause'>;

  constructor(
    metrics: Metrics,
    private readonly planner: OperationPlanner,
  ) {
    this.changes = new Counter({
      name: 'provisio_identity_changes_total',
      help: 'Identity store changes, by kind (created, updated, deleted, removed) and cause (api, event)',
      labelNames: ['kind', 'cause'],
      registers: [metrics.registry],
    });
  }

  async recorded(tx: TenantTransaction, change: IdentityChange): Promise<void> {
    this.changes.inc({ kind: kindOf(change), cause: change.cause.kind });
    await this.planner.planChange(tx, { before: change.before, after: change.after, cause: { ...change.cause } });
  }
}
