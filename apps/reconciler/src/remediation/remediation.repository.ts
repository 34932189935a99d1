import { Injectable } from '@nestjs/common';
import type { RemediationAction, RemediationDirection, RemediationStatus, TenantScoped, TenantTransaction } from '@provisio/persistence';
import { SqlFilters, toStorableJson } from '@provisio/platform';
import type { DiscrepancyType } from '../classification/classifier';

/** A discrepancy as remediation reads it, with the result it has (if any). */
export interface RemediableRow {
  id: string;
  connector_id: string;
  run_id: string;
  discrepancy_type: DiscrepancyType;
  identity_id: string | null;
  external_uid: string | null;
  attribute_name: string | null;
  expected_value: string | null;
  actual_value: string | null;
  resolution_status: 'pending' | 'resolved' | 'ignored';
  result_status: RemediationStatus | null;
}

export interface ResultRow {
  id: string;
  discrepancy_id: string;
  connector_id: string | null;
  run_id: string | null;
  action_id: string | null;
  action: RemediationAction;
  direction: RemediationDirection;
  status: RemediationStatus;
  success: boolean | null;
  error: string | null;
  changes: Record<string, unknown> | null;
  operation_id: string | null;
  created_at: Date;
  completed_at: Date | null;
  updated_at: Date;
}

export interface ActionRow {
  id: string;
  connector_id: string;
  run_id: string | null;
  discrepancy_id: string | null;
  action_type: string;
  result: string;
  dry_run: boolean;
  performed_by: number | null;
  performed_at: Date;
  details: Record<string, unknown> | null;
}

/** What bulk remediation selects by (all optional; at least one is asked for by the API). */
export interface DiscrepancyFilter {
  run_id?: string;
  connector_id?: string;
  discrepancy_type?: string;
  attribute_name?: string;
  identity_id?: string;
  external_uid?: string;
}

const DISCREPANCY = `d.id, d.connector_id, d.run_id, d.discrepancy_type, d.identity_id, d.external_uid, d.attribute_name, d.expected_value, d.actual_value,
  d.resolution_status, (SELECT r.status FROM remediation_results r WHERE r.discrepancy_id = d.id) AS result_status`;
const RESULT = `id, discrepancy_id, connector_id, run_id, action_id, action, direction, status, success, error, changes, operation_id, created_at, completed_at, updated_at`;
const ACTION = `id, connector_id, run_id, discrepancy_id, action_type, result, dry_run, performed_by, performed_at, details`;

/**
 * Every statement of remediation on the reconciler's tables: `discrepancies` (their resolution),
 * `remediation_results` and `reconciliation_actions` (the audit log). Tenant-scoped.
 */
@Injectable()
export class RemediationRepository {
  /** The discrepancy, locked until the transaction ends: two remediations of it queue up, the second sees the first's result. */
  lock(tx: TenantTransaction, id: string): Promise<RemediableRow | undefined> {
    return tx.one<RemediableRow>(`SELECT ${DISCREPANCY} FROM discrepancies d WHERE d.tenant_id = $1 AND d.id = $2 FOR UPDATE OF d`, [id]);
  }

  /**
   * The next discrepancies still to remediate among those matching `filters`: pending, with no result
   * or a failed one; locked, skipping those another transaction holds (a second bulk request or a run).
   */
  lockRemediable(tx: TenantTransaction, filters: SqlFilters, limit: number, withDefaultOnly: boolean): Promise<RemediableRow[]> {
    return tx.query<RemediableRow>(
      `SELECT ${DISCREPANCY} FROM discrepancies d
        WHERE ${filters.where} AND d.resolution_status = 'pending'
          ${withDefaultOnly ? `AND d.discrepancy_type <> 'collision'` : ''}
          AND NOT EXISTS (SELECT 1 FROM remediation_results r WHERE r.discrepancy_id = d.id AND r.status <> 'failed')
        ORDER BY d.id LIMIT ${Math.floor(limit)} FOR UPDATE OF d SKIP LOCKED`,
      filters.params,
    );
  }

  async insertAction(
    tx: TenantTransaction,
    action: { connector_id: string; run_id: string | null; discrepancy_id: string | null; action_type: string; result: string; dry_run: boolean; performed_by: number | null; details: Record<string, unknown> },
  ): Promise<string> {
    const row = await tx.one<{ id: string }>(
      `INSERT INTO reconciliation_actions (tenant_id, connector_id, run_id, discrepancy_id, action_type, result, dry_run, performed_by, details)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb) RETURNING id`,
      [action.connector_id, action.run_id, action.discrepancy_id, action.action_type, action.result, action.dry_run, action.performed_by, toStorableJson(action.details)],
    );
    return row!.id;
  }

  /** The discrepancy's result; replaces a failed one (a retry), never another. */
  async saveResult(
    tx: TenantTransaction,
    result: { discrepancy_id: string; connector_id: string; run_id: string; action_id: string; action: RemediationAction; direction: RemediationDirection; status: RemediationStatus; error: string | null; changes: Record<string, unknown>; operation_id: string | null },
  ): Promise<ResultRow | undefined> {
    const success = result.status === 'pending' ? null : result.status === 'succeeded';
    const row = await tx.one<ResultRow>(
      `INSERT INTO remediation_results (tenant_id, discrepancy_id, connector_id, run_id, action_id, action, direction, status, success, error, changes, operation_id, completed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text, $9, $10, $11::jsonb, $12, CASE WHEN $8::text = 'pending' THEN NULL ELSE now() END)
       ON CONFLICT (discrepancy_id) DO UPDATE SET
         connector_id = EXCLUDED.connector_id, run_id = EXCLUDED.run_id, action_id = EXCLUDED.action_id, action = EXCLUDED.action, direction = EXCLUDED.direction,
         status = EXCLUDED.status, success = EXCLUDED.success, error = EXCLUDED.error, changes = EXCLUDED.changes, operation_id = EXCLUDED.operation_id,
         created_at = now(), completed_at = EXCLUDED.completed_at, updated_at = now()
       WHERE remediation_results.status = 'failed'
       RETURNING ${RESULT}`,
      [result.discrepancy_id, result.connector_id, result.run_id, result.action_id, result.action, result.direction, result.status, success, result.error, toStorableJson(result.changes), result.operation_id],
    );
    return row;
  }

  async resolve(tx: TenantTransaction, discrepancyId: string, status: 'resolved' | 'ignored', by: number | null): Promise<void> {
    await tx.execute(`UPDATE discrepancies SET resolution_status = $3, resolved_at = now(), resolved_by = $4 WHERE tenant_id = $1 AND id = $2 AND resolution_status = 'pending'`, [
      discrepancyId,
      status,
      by,
    ]);
  }

  /**
   * The outcome of the operation a pending result waits for: the result and its audit row say so, and a
   * success resolves the discrepancy (by whoever asked). Undefined when no pending result has the operation.
   */
  async settle(tx: TenantTransaction, operationId: string, succeeded: boolean, error: string | null): Promise<ResultRow | undefined> {
    const row = await tx.one<ResultRow>(
      `UPDATE remediation_results SET status = $3, success = $4, error = $5, completed_at = now(), updated_at = now()
        WHERE tenant_id = $1 AND operation_id = $2 AND status = 'pending' RETURNING ${RESULT}`,
      [operationId, succeeded ? 'succeeded' : 'failed', succeeded, error],
    );
    if (!row) return undefined;
    if (row.action_id) await tx.execute(`UPDATE reconciliation_actions SET result = $3 WHERE tenant_id = $1 AND id = $2`, [row.action_id, succeeded ? 'succeeded' : 'failed']);
    if (succeeded) {
      await tx.execute(
        `UPDATE discrepancies SET resolution_status = 'resolved', resolved_at = now(),
                resolved_by = (SELECT a.performed_by FROM reconciliation_actions a WHERE a.tenant_id = $1 AND a.id = $3)
          WHERE tenant_id = $1 AND id = $2 AND resolution_status = 'pending'`,
        [row.discrepancy_id, row.action_id],
      );
    }
    return row;
  }

  findResult(db: TenantScoped, id: string): Promise<ResultRow | undefined> {
    return db.one<ResultRow>(`SELECT ${RESULT} FROM remediation_results WHERE tenant_id = $1 AND id = $2`, [id]);
  }

  resultOf(db: TenantScoped, discrepancyId: string): Promise<ResultRow | undefined> {
    return db.one<ResultRow>(`SELECT ${RESULT} FROM remediation_results WHERE tenant_id = $1 AND discrepancy_id = $2`, [discrepancyId]);
  }

  async listResults(db: TenantScoped, filters: SqlFilters, page: { limit: number; offset: number }): Promise<{ rows: ResultRow[]; total: number }> {
    const p = filters.page(page);
    const rows = await db.query<ResultRow>(`SELECT ${RESULT} FROM remediation_results WHERE ${filters.where} ORDER BY created_at DESC, id ${p.sql}`, p.params);
    const [count] = await db.query<{ total: number }>(`SELECT count(*)::int AS total FROM remediation_results WHERE ${filters.where}`, filters.params);
    return { rows, total: count.total };
  }

  async listActions(db: TenantScoped, filters: SqlFilters, page: { limit: number; offset: number }): Promise<{ rows: ActionRow[]; total: number }> {
    const p = filters.page(page);
    const rows = await db.query<ActionRow>(`SELECT ${ACTION} FROM reconciliation_actions WHERE ${filters.where} ORDER BY performed_at DESC, id ${p.sql}`, p.params);
    const [count] = await db.query<{ total: number }>(`SELECT count(*)::int AS total FROM reconciliation_actions WHERE ${filters.where}`, filters.params);
    return { rows, total: count.total };
  }

  findAction(db: TenantScoped, id: string): Promise<ActionRow | undefined> {
    return db.one<ActionRow>(`SELECT ${ACTION} FROM reconciliation_actions WHERE tenant_id = $1 AND id = $2`, [id]);
  }
}
