import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { from as copyFrom } from 'pg-copy-streams';
import type { PoolClient } from 'pg';
import type { TenantTransaction } from '@provisio/persistence';
import { toStorableJson, toStorableText } from '@provisio/platform';

/**
 * COPY of rows into one of the reconciler's staging tables, on the connection of a tenant transaction
 * (so a page and the run's checkpoint commit together). The tables and columns are this file's constants,
 * and every row's first column is the transaction's tenant: COPY cannot go through `TenantScoped.query`,
 * so the tenant is bound here instead.
 */
export const STAGING_TABLES = {
  staged: { table: 'reconciliation_staged_accounts', columns: ['tenant_id', 'run_id', 'seq', 'external_uid', 'attributes', 'enabled', 'modified_at'] },
  expected: { table: 'reconciliation_expected_accounts', columns: ['tenant_id', 'run_id', 'identity_id', 'attributes'] },
} as const;
export type StagingTable = keyof typeof STAGING_TABLES;

export type CopyValue = string | number | boolean | null | { json: unknown };

/** One field of COPY's text format: `\N` for NULL, backslash escapes for what would end a field or a row. */
export function copyField(value: CopyValue): string {
  if (value === null) return '\\N';
  const text = typeof value === 'object' ? toStorableJson(value.json) : typeof value === 'string' ? toStorableText(value) : String(value);
  return text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

export async function copyRows(tx: TenantTransaction, target: StagingTable, rows: CopyValue[][]): Promise<void> {
  if (rows.length === 0) return;
  const { table, columns } = STAGING_TABLES[target];
  const client = (await tx.manager.queryRunner!.connect()) as PoolClient;
  const tenant = copyField(tx.tenantId);
  const lines = function* () {
    let chunk = '';
    for (const row of rows) {
      chunk += `${tenant}\t${row.map(copyField).join('\t')}\n`;
      if (chunk.length > 256 * 1024) {
        yield chunk;
        chunk = '';
      }
    }
    if (chunk) yield chunk;
  };
  const stream = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
  await pipeline(Readable.from(lines()), stream);
}
