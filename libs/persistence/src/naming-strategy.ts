import { DefaultNamingStrategy, NamingStrategyInterface, Table } from 'typeorm';

const NAMEDATALEN = 64;

/**
 * PostgreSQL's own rule for implicit constraint names (`makeObjectName` in its source): `<table>_<columns>_<label>`,
 * the longer of the two parts shortened until the name fits in 63 bytes.
 */
export function postgresObjectName(table: string, columns: string | null, label: string): string {
  let tableChars = table.length;
  let columnChars = columns ? columns.length : 0;
  const overhead = (columns ? 1 : 0) + label.length + 1;
  const available = NAMEDATALEN - 1 - overhead;
  while (tableChars + columnChars > available) {
    if (tableChars > columnChars) tableChars--;
    else columnChars--;
  }
  return [table.slice(0, tableChars), columns ? columns.slice(0, columnChars) : null, label].filter((p) => p !== null).join('_');
}

/**
 * Names constraints the way PostgreSQL does when a `CREATE TABLE` leaves them unnamed (`scripts_pkey`,
 * `scripts_tenant_id_fkey`, `script_scheduled_jobs_script_id_key`). The migrations are plain SQL with
 * inline `REFERENCES` and `UNIQUE`, so with this strategy the entities name every constraint exactly as
 * the database does: a schema diff is empty, and a constraint name in an error maps straight back to
 * its columns. Checks and indexes are always named explicitly in the entities.
 */
export class PostgresNamingStrategy extends DefaultNamingStrategy implements NamingStrategyInterface {
  private table(tableOrName: Table | string): string {
    return this.getTableName(tableOrName);
  }

  override primaryKeyName(tableOrName: Table | string): string {
    return postgresObjectName(this.table(tableOrName), null, 'pkey');
  }

  override foreignKeyName(tableOrName: Table | string, columnNames: string[]): string {
    return postgresObjectName(this.table(tableOrName), columnNames.join('_'), 'fkey');
  }

  override uniqueConstraintName(tableOrName: Table | string, columnNames: string[]): string {
    return postgresObjectName(this.table(tableOrName), columnNames.join('_'), 'key');
  }

  override relationConstraintName(tableOrName: Table | string, columnNames: string[]): string {
    return postgresObjectName(this.table(tableOrName), columnNames.join('_'), 'key');
  }

  override indexName(tableOrName: Table | string, columnNames: string[]): string {
    return postgresObjectName(this.table(tableOrName), columnNames.join('_'), 'idx');
  }
}
