import { NotFoundError } from '@provisio/platform';
import type { TenantTransaction } from '@provisio/persistence';

declare const locked: unique symbol;

/** A script row read `FOR UPDATE` in the current transaction: only `lockScript` makes one. */
export type ScriptLock<T extends { id: string } = { id: string }> = T & { readonly [locked]: true };

/**
 * Reads a script of the caller's tenant and locks its row until the transaction ends, so changes of one
 * script (new versions, status, routing) are serialised; 404 when it does not exist in the tenant.
 * `columns` may use `s.` (scripts) and `j.` (its scheduled job, if any).
 */
export async function lockScript<T extends { id: string }>(tx: TenantTransaction, id: string, columns: string): Promise<ScriptLock<T>> {
  const row = await tx.one<T>(
    `SELECT ${columns} FROM scripts s LEFT JOIN script_scheduled_jobs j ON j.script_id = s.id
      WHERE s.tenant_id = $1 AND s.id = $2 FOR UPDATE OF s`,
    [id],
  );
  if (!row) throw new NotFoundError('script', id);
  return row as ScriptLock<T>;
}
