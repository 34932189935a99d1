import { Injectable } from '@nestjs/common';
import type { ConflictOutcome, ConflictStatus, ProvisioningConflict, TenantScoped } from '@provisio/persistence';
import { toStorableText } from '@provisio/platform';
import { SqlFilters } from '@provisio/platform';

export type ConflictRow = Pick<
  ProvisioningConflict,
  'id' | 'tenant_id' | 'operation_id_a' | 'operation_id_b' | 'conflict_type' | 'affected_attributes' | 'status' | 'outcome' | 'notes' | 'created_at' | 'resolved_at' | 'resolved_by'
>;

const COLUMNS = 'id, tenant_id, operation_id_a, operation_id_b, conflict_type, affected_attributes, status, outcome, notes, created_at, resolved_at, resolved_by';

/** Every statement on `provisioning_conflicts`; tenant-scoped. */
@Injectable()
export class ConflictsRepository {
  async insert(
    tx: TenantScoped,
    conflict: { a: string; b: string; type: string; attributes: string[]; status: ConflictStatus; outcome: ConflictOutcome | null; notes: string },
  ): Promise<ConflictRow | undefined> {
    return tx.one(
      `INSERT INTO provisioning_conflicts (tenant_id, operation_id_a, operation_id_b, conflict_type, affected_attributes, status, outcome, notes, resolved_at)
       VALUES ($1, $2, $3, $4, $5::text[], $6::varchar, $7, $8, CASE WHEN $6::varchar = 'resolved' THEN now() END)
       ON CONFLICT (operation_id_a, operation_id_b) DO NOTHING RETURNING ${COLUMNS}`,
      [conflict.a, conflict.b, conflict.type, conflict.attributes, conflict.status, conflict.outcome, toStorableText(conflict.notes)],
    );
  }

  async find(db: TenantScoped, id: string): Promise<ConflictRow | undefined> {
    return db.one(`SELECT ${COLUMNS} FROM provisioning_conflicts WHERE tenant_id = $1 AND id = $2`, [id]);
  }

  async lock(db: TenantScoped, id: string): Promise<ConflictRow | undefined> {
    return db.one(`SELECT ${COLUMNS} FROM provisioning_conflicts WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, [id]);
  }

  async resolve(db: TenantScoped, id: string, outcome: ConflictOutcome, notes: string | null, resolvedBy: number): Promise<ConflictRow | undefined> {
    return db.one(
      `UPDATE provisioning_conflicts SET status = 'resolved', outcome = $3, notes = $4, resolved_at = now(), resolved_by = $5
        WHERE tenant_id = $1 AND id = $2 AND status = 'pending' RETURNING ${COLUMNS}`,
      [id, outcome, notes === null ? null : toStorableText(notes), resolvedBy],
    );
  }

  async list(db: TenantScoped, filter: { status?: ConflictStatus; operation_id?: string }, page: { limit: number; offset: number }): Promise<{ rows: ConflictRow[]; total: number }> {
    const filters = new SqlFilters();
    if (filter.status) filters.add('status = ?', filter.status);
    if (filter.operation_id) filters.add('(operation_id_a = ? OR operation_id_b = ?)', filter.operation_id, filter.operation_id);
    const paged = filters.page(page);
    const [rows, [{ total }]] = await Promise.all([
      db.query<ConflictRow>(`SELECT ${COLUMNS} FROM provisioning_conflicts WHERE ${filters.where} ORDER BY created_at DESC, id ${paged.sql}`, paged.params),
      db.query<{ total: number }>(`SELECT count(*)::int AS total FROM provisioning_conflicts WHERE ${filters.where}`, filters.params),
    ]);
    return { rows, total };
  }
}
