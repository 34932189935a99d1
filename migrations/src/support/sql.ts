import { QueryRunner } from 'typeorm';

/** Runs statements one by one, so a failure names the statement that failed. */
export async function execute(queryRunner: QueryRunner, statements: readonly string[]): Promise<void> {
  for (const statement of statements) await queryRunner.query(statement);
}

/**
 * Drops every CHECK constraint that covers exactly `column` of `table` (in the current schema),
 * whatever name PostgreSQL gave it. Used to replace the seeds' unnamed checks by named ones.
 */
export async function dropColumnChecks(queryRunner: QueryRunner, table: string, column: string): Promise<string[]> {
  const rows: { conname: string }[] = await queryRunner.query(
    `SELECT c.conname
       FROM pg_constraint c
       JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
      WHERE c.conrelid = to_regclass($1) AND c.contype = 'c' AND a.attname = $2 AND cardinality(c.conkey) = 1`,
    [table, column],
  );
  for (const { conname } of rows) await queryRunner.query(`ALTER TABLE ${table} DROP CONSTRAINT "${conname}"`);
  return rows.map((r) => r.conname);
}

/** `'a', 'b', 'c'` for an IN list. Values are compile-time constants of the migrations, never input. */
export function inList(values: readonly string[]): string {
  return values.map((v) => `'${v.replace(/'/g, "''")}'`).join(', ');
}
