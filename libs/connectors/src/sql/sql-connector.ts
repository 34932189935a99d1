/**
 * The SQL connector: accounts (and optionally groups) as rows of a table or view in PostgreSQL or MariaDB,
 * through a column mapping; uid = the key column's value. Statements are built from identifiers checked
 * against a strict pattern and the table's real columns (information_schema), quoted; values are always bound.
 *
 * writeBatch sends one multi-row statement per run of writes of the same kind (INSERT … VALUES (…),(…),
 * UPDATE … FROM (VALUES …) / UPDATE … JOIN (SELECT … UNION ALL …), DELETE … WHERE key IN (…)); when such a
 * statement fails, its rows are written one by one, so each write gets its own outcome.
 *
 * Search is keyset-paged on the key column: a cursor is the last key delivered, resumable for free. Deltas
 * page on (updatedAtColumn, key); a page's watermark is its last row's timestamp less deltaOverlapMs.
 * `segments` cuts the key range at evenly spaced keys (read once, by OFFSET on the key's index): a
 * segment is `[from, to)` of the key, so segments never overlap whatever changes after the cut.
 */
import {
  Attributes,
  AttributeDelta,
  AttributeValue,
  ConnectionTestResult,
  Connector,
  ConnectorSchema,
  ObjectClass,
  SchemaAttribute,
  SearchFilter,
  SearchOptions,
  SearchPage,
  TargetObject,
  WriteOperation,
  WriteOutcome,
} from '../connector';
import { ConnectorError, ConnectorErrorCode } from '../connector-errors';
import { ConnectorGovernor, GovernedCallKind } from '../governor';
import { SqlConfig, SqlCredentials, SqlTableMapping } from './sql-config';
import { createDriver, Params, Row, SqlDriver } from './sql-driver';
import { toConnectorError } from './sql-errors';

/** A column as information_schema describes it. */
interface ColumnInfo {
  name: string;
  dataType: string;
  /** PostgreSQL: the type to cast a bound parameter to (`"pg_catalog"."int4"`). */
  castType: string;
  nullable: boolean;
  hasDefault: boolean;
  generated: boolean;
}

interface Table {
  objectClass: ObjectClass;
  mapping: SqlTableMapping;
  /** Quoted `schema.table`. */
  ref: string;
  columns: Map<string, ColumnInfo>;
  keyAttribute: string;
  /** The SELECT list every read uses. */
  select: string;
}

const UPDATED_ALIAS = 'provisio_updated_at';
const KEY_ALIAS = 'provisio_key';
const TS_FORMAT_PG = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;
const TS_FORMAT_MARIADB = `'%Y-%m-%dT%H:%i:%s.%fZ'`;

interface KeyCursor {
  k: string | number;
}
interface DeltaCursor extends KeyCursor {
  u: string;
}
type Cursor = KeyCursor | DeltaCursor;
/** A key range `[a, b)`; an end left out is open. */
interface KeySegment {
  a?: string | number;
  b?: string | number;
}
const isDeltaCursor = (cursor: Cursor): cursor is DeltaCursor => typeof (cursor as DeltaCursor).u === 'string';

export class SqlConnector implements Connector {
  readonly type = 'sql' as const;
  private readonly driver: SqlDriver;
  private readonly governor: ConnectorGovernor;
  private tables: Promise<Record<ObjectClass, Table | null>> | null = null;

  constructor(
    private readonly config: SqlConfig,
    credentials: SqlCredentials,
  ) {
    this.driver = createDriver(config, credentials);
    this.governor = new ConnectorGovernor(config.limits);
  }

  async create(objectClass: ObjectClass, attributes: Attributes): Promise<TargetObject> {
    return this.single(await this.writeBatch([{ kind: 'create', objectClass, attributes }]));
  }

  async update(objectClass: ObjectClass, uid: string, delta: AttributeDelta): Promise<TargetObject> {
    return this.single(await this.writeBatch([{ kind: 'update', objectClass, uid, delta }]));
  }

  async delete(objectClass: ObjectClass, uid: string): Promise<void> {
    await this.single(await this.writeBatch([{ kind: 'delete', objectClass, uid }]));
  }

  enable(objectClass: ObjectClass, uid: string): Promise<void> {
    return this.setEnabled(objectClass, uid, true);
  }

  disable(objectClass: ObjectClass, uid: string): Promise<void> {
    return this.setEnabled(objectClass, uid, false);
  }

  async get(objectClass: ObjectClass, uid: string): Promise<TargetObject | null> {
    const table = await this.table(objectClass);
    const params = new Params(this.driver);
    try {
      const { rows } = await this.call('read', `get ${objectClass} ${uid}`, (db) =>
        db.query(`SELECT ${table.select} FROM ${table.ref} WHERE ${this.col(table.mapping.keyColumn)} = ${params.add(uid)}`, params.values),
      );
      return rows[0] ? this.toObject(table, objectClass, rows[0]) : null;
    } catch (error) {
      // a uid that cannot be a key of this column's type (`abc` for an integer key) names no row
      if (error instanceof ConnectorError && error.code === ConnectorErrorCode.InvalidAttribute) return null;
      throw error;
    }
  }

  search(objectClass: ObjectClass, options: SearchOptions = {}): AsyncIterable<SearchPage> {
    return this.pages(objectClass, options, null);
  }

  searchChangedSince(objectClass: ObjectClass, watermark: string | null, options: SearchOptions = {}): AsyncIterable<SearchPage> {
    if (watermark !== null && !Number.isFinite(Date.parse(watermark))) {
      throw new ConnectorError(ConnectorErrorCode.BadRequest, `'${watermark.slice(0, 40)}' is not a SQL connector watermark (ISO 8601)`);
    }
    return this.pages(objectClass, options, { since: watermark });
  }

  async segments(objectClass: ObjectClass, count: number, options: { filter?: SearchFilter; pageSize?: number } = {}): Promise<string[]> {
    const table = await this.table(objectClass);
    const key = this.col(table.mapping.keyColumn);
    const wanted = Math.max(1, Math.min(Math.floor(count), 1_000));
    const where = (params: Params) => (options.filter ? ` WHERE ${this.filterSql(table, options.filter, params)}` : '');
    const countParams = new Params(this.driver);
    const { rows } = await this.call('read', `count ${table.mapping.table}`, (db) => db.query(`SELECT COUNT(*) AS n FROM ${table.ref}${where(countParams)}`, countParams.values));
    const total = Number(rows[0]?.n ?? 0);
    const per = Math.ceil(total / wanted);
    const cuts: Array<string | number> = [];
    for (let i = 1; i < wanted && i * per < total; i++) {
      const params = new Params(this.driver);
      const { rows: at } = await this.call('read', `cut ${table.mapping.table} at ${i * per}`, (db) =>
        db.query(`SELECT ${key} AS ${KEY_ALIAS} FROM ${table.ref}${where(params)} ORDER BY ${key} LIMIT 1 OFFSET ${i * per}`, params.values),
      );
      const cut = at[0]?.[KEY_ALIAS] as string | number | undefined;
      if (cut !== undefined && cut !== null && cut !== cuts[cuts.length - 1]) cuts.push(cut);
    }
    const bounds = [undefined, ...cuts, undefined];
    return bounds.slice(0, -1).map((a, i) => encodeSegment({ ...(a !== undefined ? { a } : {}), ...(bounds[i + 1] !== undefined ? { b: bounds[i + 1] } : {}) }));
  }

  async writeBatch(operations: WriteOperation[]): Promise<WriteOutcome[]> {
    const outcomes: WriteOutcome[] = new Array(operations.length);
    // Runs of consecutive writes of one kind and class keep the batch's order where it matters (create, then delete).
    let start = 0;
    while (start < operations.length) {
      let end = start + 1;
      while (end < operations.length && operations[end].kind === operations[start].kind && operations[end].objectClass === operations[start].objectClass) end++;
      const run = operations.slice(start, end).map((operation, i) => ({ operation, index: start + i }));
      for (let chunk = 0; chunk < run.length; chunk += this.config.batchSize) {
        const slice = run.slice(chunk, chunk + this.config.batchSize);
        const results = await this.writeRun(slice.map((s) => s.operation)).catch((error: unknown) =>
          slice.map((): WriteOutcome => ({ ok: false, error: toConnectorError(error, `${slice[0].operation.kind} ${slice[0].operation.objectClass}`) })),
        );
        results.forEach((outcome, i) => (outcomes[slice[i].index] = outcome));
      }
      start = end;
    }
    return outcomes;
  }

  async testConnection(): Promise<ConnectionTestResult> {
    const startedAt = Date.now();
    try {
      const { rows } = await this.call('read', 'test connection', (db) => db.query('SELECT version() AS version'));
      const tables = await this.loadTables();
      return {
        ok: true,
        latencyMs: Date.now() - startedAt,
        details: { dialect: this.config.dialect, version: rows[0]?.version, tables: Object.values(tables).filter(Boolean).map((t) => t!.mapping.table) },
      };
    } catch (error) {
      const failure = toConnectorError(error, 'test connection');
      return { ok: false, latencyMs: Date.now() - startedAt, details: { dialect: this.config.dialect }, error: { code: failure.code, message: failure.message } };
    }
  }

  async schema(): Promise<ConnectorSchema> {
    const tables = await this.loadTables();
    const objectClasses = (['account', 'group'] as const)
      .filter((name) => tables[name])
      .map((name) => {
        const table = tables[name]!;
        const attributes: SchemaAttribute[] = Object.entries(table.mapping.columns).map(([attribute, column]) => {
          const info = table.columns.get(column)!;
          return {
            name: attribute,
            type: typeOfColumn(info.dataType),
            multiValued: /^(ARRAY|_)/i.test(info.dataType),
            required: !info.nullable && !info.hasDefault && !info.generated,
            readOnly: info.generated || column === table.mapping.updatedAtColumn,
          };
        });
        return { name, nativeName: table.mapping.table, attributes };
      });
    return { objectClasses };
  }

  async close(): Promise<void> {
    await this.governor.close();
    await this.driver.close();
  }

  // ---- internals --------------------------------------------------------------------------------------------

  private single(outcomes: WriteOutcome[]): TargetObject {
    const [outcome] = outcomes;
    if (!outcome.ok) throw outcome.error;
    return outcome.object!;
  }

  private async call<T>(kind: GovernedCallKind, description: string, run: (db: SqlDriver) => Promise<T>, writes = 1): Promise<T> {
    try {
      return await this.governor.call({ kind, description, writes, run: () => run(this.driver) });
    } catch (error) {
      throw toConnectorError(error, description);
    }
  }

  private col(name: string): string {
    return this.driver.quote(name);
  }

  private async table(objectClass: ObjectClass): Promise<Table> {
    const table = (await this.loadTables())[objectClass];
    if (!table) throw new ConnectorError(ConnectorErrorCode.Unsupported, `this SQL connector maps no table for ${objectClass}s`);
    return table;
  }

  private loadTables(): Promise<Record<ObjectClass, Table | null>> {
    if (!this.tables) {
      this.tables = (async () => ({
        account: await this.describe('account', this.config.accounts),
        group: this.config.groups ? await this.describe('group', this.config.groups) : null,
      }))();
      // A failed look-up (database down) is tried again on the next call.
      this.tables.catch(() => (this.tables = null));
    }
    return this.tables;
  }

  /** The table's columns from information_schema; every column the mapping names must be one of them. */
  private async describe(objectClass: ObjectClass, mapping: SqlTableMapping): Promise<Table> {
    const [schemaName, tableName] = mapping.table.includes('.') ? mapping.table.split('.') : [null, mapping.table];
    const pg = this.driver.dialect === 'postgres';
    const params = new Params(this.driver);
    const sql = pg
      ? `SELECT column_name, data_type, udt_schema, udt_name, is_nullable, column_default, is_identity, is_generated
           FROM information_schema.columns WHERE table_schema = ${schemaName ? params.add(schemaName) : 'current_schema()'} AND table_name = ${params.add(tableName)}`
      : `SELECT column_name, data_type, is_nullable, column_default, extra FROM information_schema.columns
           WHERE table_schema = ${schemaName ? params.add(schemaName) : 'DATABASE()'} AND table_name = ${params.add(tableName)}`;
    const { rows } = await this.call('read', `describe ${mapping.table}`, (db) => db.query(sql, params.values));
    if (rows.length === 0) throw new ConnectorError(ConnectorErrorCode.InvalidConfig, `table ${mapping.table} does not exist (or has no columns this user can see)`);
    const columns = new Map<string, ColumnInfo>();
    for (const row of rows) {
      const r = lowerKeys(row);
      const name = String(r.column_name);
      const extra = String(r.extra ?? '').toLowerCase();
      columns.set(name, {
        name,
        dataType: String(r.data_type),
        castType: pg ? `${this.col(String(r.udt_schema))}.${quoteAny(String(r.udt_name))}` : '',
        nullable: r.is_nullable === 'YES',
        hasDefault: r.column_default !== null && r.column_default !== undefined && r.column_default !== 'NULL',
        generated: r.is_identity === 'YES' || (r.is_generated !== undefined && r.is_generated !== 'NEVER' && r.is_generated !== null) || /auto_increment|generated/.test(extra),
      });
    }
    const named = [mapping.keyColumn, ...Object.values(mapping.columns), mapping.updatedAtColumn, mapping.enabled?.column].filter((c): c is string => Boolean(c));
    const missing = named.filter((c) => !columns.has(c));
    if (missing.length > 0) throw new ConnectorError(ConnectorErrorCode.InvalidConfig, `table ${mapping.table} has no column ${[...new Set(missing)].join(', ')}`);
    const keyAttribute = Object.entries(mapping.columns).find(([, column]) => column === mapping.keyColumn)![0];
    const ref = (schemaName ? [schemaName, tableName] : [tableName]).map((part) => this.col(part)).join('.');
    const selected = [...new Set([mapping.keyColumn, ...Object.values(mapping.columns), ...(mapping.enabled ? [mapping.enabled.column] : [])])].map((c) => this.col(c));
    selected.push(`${this.col(mapping.keyColumn)} AS ${this.col(KEY_ALIAS)}`);
    if (mapping.updatedAtColumn) selected.push(`${this.timestampText(this.col(mapping.updatedAtColumn))} AS ${this.col(UPDATED_ALIAS)}`);
    return { objectClass, mapping, ref, columns, keyAttribute, select: selected.join(', ') };
  }

  /** A timestamp column as ISO 8601 text with microseconds, UTC (sessions run in UTC). */
  private timestampText(column: string): string {
    return this.driver.dialect === 'postgres' ? `to_char(${column} AT TIME ZONE 'UTC', ${TS_FORMAT_PG})` : `DATE_FORMAT(${column}, ${TS_FORMAT_MARIADB})`;
  }

  /** A bound ISO timestamp as the database compares it. */
  private timestampParam(params: Params, iso: string): string {
    if (this.driver.dialect === 'postgres') return `CAST(${params.add(iso)} AS timestamptz)`;
    return `CAST(${params.add(iso.replace('T', ' ').replace(/Z$/, ''))} AS DATETIME(6))`;
  }

  private nowSql(): string {
    return this.driver.dialect === 'postgres' ? 'clock_timestamp()' : 'CURRENT_TIMESTAMP(6)';
  }

  private toObject(table: Table, objectClass: ObjectClass, row: Row): TargetObject {
    const attributes: Attributes = {};
    for (const [attribute, column] of Object.entries(table.mapping.columns)) attributes[attribute] = fromDb(row[column]);
    const object: TargetObject = { uid: String(row[KEY_ALIAS]), objectClass, attributes };
    if (table.mapping.enabled) object.enabled = sameValue(row[table.mapping.enabled.column], table.mapping.enabled.enabledValue);
    const updated = row[UPDATED_ALIAS];
    if (typeof updated === 'string') object.modifiedAt = updated;
    return object;
  }

  /** An attribute's value for its column: scalars as they are, arrays (for array columns) or JSON text. */
  private toDb(table: Table, column: string, value: AttributeValue): unknown {
    if (typeof value === 'string') return wellFormed(column, value);
    if (value === null || typeof value !== 'object') return value;
    const info = table.columns.get(column)!;
    if (Array.isArray(value) && /^ARRAY$/i.test(info.dataType)) return value;
    return JSON.stringify(value);
  }

  /** Attribute → column values of a write; an attribute the mapping lacks is refused. */
  private columnsOf(table: Table, attributes: Attributes, what: string): Map<string, unknown> {
    const values = new Map<string, unknown>();
    for (const [attribute, value] of Object.entries(attributes)) {
      const column = table.mapping.columns[attribute];
      if (!column) throw new ConnectorError(ConnectorErrorCode.InvalidAttribute, `${what}: ${attribute} is not mapped to a column of ${table.mapping.table}`, { attribute });
      values.set(column, this.toDb(table, column, value));
    }
    return values;
  }

  private async setEnabled(objectClass: ObjectClass, uid: string, enabled: boolean): Promise<void> {
    const table = await this.table(objectClass);
    const setting = table.mapping.enabled;
    if (!setting) throw new ConnectorError(ConnectorErrorCode.Unsupported, `${table.mapping.table} has no enabled column in this connector's mapping`);
    const params = new Params(this.driver);
    const sets = [`${this.col(setting.column)} = ${params.add(enabled ? setting.enabledValue : setting.disabledValue)}`];
    if (table.mapping.updatedAtColumn && table.mapping.setUpdatedAt) sets.push(`${this.col(table.mapping.updatedAtColumn)} = ${this.nowSql()}`);
    const sql = `UPDATE ${table.ref} SET ${sets.join(', ')} WHERE ${this.col(table.mapping.keyColumn)} = ${params.add(uid)}`;
    const { rowCount } = await this.call('write', `${enabled ? 'enable' : 'disable'} ${objectClass} ${uid}`, (db) => db.query(sql, params.values));
    // MariaDB counts changed rows: setting the value a row already has is 0 (the row is there; check).
    if (rowCount === 0 && !(await this.get(objectClass, uid))) throw new ConnectorError(ConnectorErrorCode.NotFound, `${objectClass} ${uid}: no such row`);
  }

  // ---- batched writes -----------------------------------------------------------------------------------------

  /** One run of writes of one kind and class (at most batchSize). */
  private async writeRun(operations: WriteOperation[]): Promise<WriteOutcome[]> {
    const table = await this.table(operations[0].objectClass);
    switch (operations[0].kind) {
      case 'create':
        return this.grouped(table, operations as Extract<WriteOperation, { kind: 'create' }>[], (op) => this.createColumns(table, op), (rows) => this.insertRows(table, rows));
      case 'update':
        return this.grouped(table, operations as Extract<WriteOperation, { kind: 'update' }>[], (op) => this.updateColumns(table, op), (rows) => this.updateRows(table, rows));
      case 'delete':
        return this.deleteRows(table, operations as Extract<WriteOperation, { kind: 'delete' }>[]);
      default:
        throw new ConnectorError(ConnectorErrorCode.BadRequest, `unknown write kind '${(operations[0] as { kind: string }).kind}'`);
    }
  }

  /**
   * Prepares each write's columns (a bad one fails alone), groups the writes with the same columns into one
   * statement each, and falls back to one statement per write when a group's statement fails.
   */
  private async grouped<Op extends WriteOperation>(
    table: Table,
    operations: Op[],
    prepare: (op: Op) => PreparedRow,
    execute: (rows: PreparedRow[]) => Promise<Array<TargetObject | ConnectorError>>,
  ): Promise<WriteOutcome[]> {
    const outcomes: WriteOutcome[] = new Array(operations.length);
    // A key appears at most once per statement: a second write of it goes into a later statement, so it
    // sees the first one's effect (statements run in the order their groups were opened).
    const groups = new Map<string, Array<{ row: PreparedRow; index: number }>>();
    const open = new Map<string, { id: string; keys: Set<string> }>();
    operations.forEach((op, index) => {
      try {
        const row = prepare(op);
        const signature = [...row.columns.keys()].join('\u0000');
        let current = open.get(signature);
        if (!current || current.keys.has(String(row.key).toLowerCase())) {
          current = { id: `${signature}\u0001${index}`, keys: new Set() };
          open.set(signature, current);
          groups.set(current.id, []);
        }
        current.keys.add(String(row.key).toLowerCase());
        groups.get(current.id)!.push({ row, index });
      } catch (error) {
        outcomes[index] = { ok: false, error: toConnectorError(error, `${op.kind} ${op.objectClass}`) };
      }
    });
    for (const members of groups.values()) {
      let results: Array<TargetObject | ConnectorError>;
      try {
        results = await execute(members.map((m) => m.row));
      } catch (error) {
        if (members.length === 1) results = [toConnectorError(error, members[0].row.what)];
        else results = await Promise.all(members.map((m) => execute([m.row]).then((r) => r[0], (e: unknown) => toConnectorError(e, m.row.what))));
      }
      results.forEach((result, i) => {
        outcomes[members[i].index] = result instanceof ConnectorError ? { ok: false, error: result } : { ok: true, object: result };
      });
    }
    return outcomes;
  }

  private createColumns(table: Table, op: Extract<WriteOperation, { kind: 'create' }>): PreparedRow {
    const what = `create ${op.objectClass}`;
    const columns = this.columnsOf(table, op.attributes, what);
    const key = columns.get(table.mapping.keyColumn);
    if (key === undefined || key === null || key === '') {
      throw new ConnectorError(ConnectorErrorCode.InvalidAttribute, `${what}: ${table.keyAttribute} (the key) must have a value`, { attribute: table.keyAttribute });
    }
    return { key: key as string | number, columns: sortedMap(columns), what: `${what} ${String(key)}` };
  }

  private updateColumns(table: Table, op: Extract<WriteOperation, { kind: 'update' }>): PreparedRow {
    const what = `update ${op.objectClass} ${op.uid}`;
    const columns = this.columnsOf(table, op.delta.replace, what);
    for (const attribute of op.delta.remove) {
      const column = table.mapping.columns[attribute];
      if (!column) throw new ConnectorError(ConnectorErrorCode.InvalidAttribute, `${what}: ${attribute} is not mapped to a column`, { attribute });
      columns.set(column, null);
    }
    const newKey = columns.get(table.mapping.keyColumn);
    if (newKey !== undefined) {
      if (String(newKey) !== op.uid) throw new ConnectorError(ConnectorErrorCode.Unsupported, `${what}: changing ${table.keyAttribute} changes the uid, which the SQL connector does not do`, { attribute: table.keyAttribute });
      columns.delete(table.mapping.keyColumn);
    }
    return { key: op.uid, columns: sortedMap(columns), what };
  }

  private async insertRows(table: Table, rows: PreparedRow[]): Promise<Array<TargetObject | ConnectorError>> {
    const { mapping } = table;
    const columns = [...rows[0].columns.keys()];
    const stamp = mapping.updatedAtColumn && mapping.setUpdatedAt && !columns.includes(mapping.updatedAtColumn) ? mapping.updatedAtColumn : null;
    const valuesOf = (params: Params, of: PreparedRow[]) =>
      of.map((row) => `(${[...columns.map((c) => params.add(row.columns.get(c))), ...(stamp ? [this.nowSql()] : [])].join(', ')})`).join(', ');
    const names = [...columns, ...(stamp ? [stamp] : [])].map((c) => this.col(c)).join(', ');
    const pg = this.driver.dialect === 'postgres';
    const upsert = mapping.createMode === 'upsert';
    const others = [...columns, ...(stamp ? [stamp] : [])].filter((c) => c !== mapping.keyColumn);
    let conflict = '';
    if (pg) {
      conflict = upsert
        ? ` ON CONFLICT (${this.col(mapping.keyColumn)}) DO ${others.length ? `UPDATE SET ${others.map((c) => `${this.col(c)} = EXCLUDED.${this.col(c)}`).join(', ')}` : 'NOTHING'}`
        : ' ON CONFLICT DO NOTHING';
    } else if (upsert) {
      conflict = ` ON DUPLICATE KEY UPDATE ${(others.length ? others : [mapping.keyColumn]).map((c) => `${this.col(c)} = VALUES(${this.col(c)})`).join(', ')}`;
    }
    const what = rows.length === 1 ? rows[0].what : `create ${rows.length} rows in ${mapping.table}`;

    if (pg) {
      // ON CONFLICT DO NOTHING: the rows not returned hit a unique key (AlreadyExists), the others are in.
      const params = new Params(this.driver);
      const sql = `INSERT INTO ${table.ref} (${names}) VALUES ${valuesOf(params, rows)}${conflict} RETURNING ${table.select}`;
      const { rows: inserted } = await this.call('write', what, (db) => db.query(sql, params.values), rows.length);
      return this.matchRows(table, rows, inserted, (row) => new ConnectorError(ConnectorErrorCode.AlreadyExists, `${row.what}: a row with this key (or another unique value) exists`, { targetStatus: '23505' }));
    }
    // MariaDB: keys that exist are AlreadyExists before the insert (a race or a duplicate within the batch
    // fails the statement, and the rows are then written one by one).
    const existing = upsert ? new Set<string>() : await this.existingKeys(table, rows.map((r) => r.key));
    const fresh = rows.filter((r) => !existing.has(String(r.key)));
    if (fresh.length > 0) {
      const params = new Params(this.driver);
      const sql = `INSERT INTO ${table.ref} (${names}) VALUES ${valuesOf(params, fresh)}${conflict}`;
      await this.call('write', what, (db) => db.query(sql, params.values), fresh.length);
    }
    const stored = fresh.length > 0 ? await this.rowsByKeys(table, fresh.map((r) => r.key)) : [];
    return this.matchRows(table, rows, stored, (row) =>
      existing.has(String(row.key))
        ? new ConnectorError(ConnectorErrorCode.AlreadyExists, `${row.what}: a row with this key exists`, { targetStatus: 1062 })
        : new ConnectorError(ConnectorErrorCode.InvalidResponse, `${row.what}: the row is not there after its insert`),
    );
  }

  private async updateRows(table: Table, rows: PreparedRow[]): Promise<Array<TargetObject | ConnectorError>> {
    const { mapping } = table;
    const columns = [...rows[0].columns.keys()];
    const what = rows.length === 1 ? rows[0].what : `update ${rows.length} rows in ${mapping.table}`;
    const notFound = (row: PreparedRow) => new ConnectorError(ConnectorErrorCode.NotFound, `${row.what}: no such row`);
    const stamp = mapping.updatedAtColumn && mapping.setUpdatedAt && !columns.includes(mapping.updatedAtColumn) ? mapping.updatedAtColumn : null;
    if (columns.length === 0) return this.matchRows(table, rows, await this.rowsByKeys(table, rows.map((r) => r.key)), notFound);
    const key = this.col(mapping.keyColumn);
    const params = new Params(this.driver);

    if (this.driver.dialect === 'postgres') {
      // The first VALUES row carries each column's type, so the others' untyped parameters take it.
      const cast = (column: string, placeholder: string, first: boolean) => (first ? `CAST(${placeholder} AS ${table.columns.get(column)!.castType})` : placeholder);
      const values = rows.map(
        (row, i) => `(${[cast(mapping.keyColumn, params.add(row.key), i === 0), ...columns.map((c) => cast(c, params.add(row.columns.get(c)), i === 0))].join(', ')})`,
      );
      // v's columns are named so that none can be one of the table's (RETURNING names the table's unqualified).
      const aliases = ['provisio_k', ...columns.map((_, i) => `provisio_c${i}`)].map((a) => this.col(a));
      const sets = columns.map((c, i) => `${this.col(c)} = v.${this.col(`provisio_c${i}`)}`);
      if (stamp) sets.push(`${this.col(stamp)} = ${this.nowSql()}`);
      const sql = `UPDATE ${table.ref} AS t SET ${sets.join(', ')} FROM (VALUES ${values.join(', ')}) AS v(${aliases.join(', ')}) WHERE t.${key} = v.${this.col('provisio_k')} RETURNING ${table.select}`;
      const { rows: updated } = await this.call('write', what, (db) => db.query(sql, params.values), rows.length);
      return this.matchRows(table, rows, updated, notFound);
    }
    const derived = rows
      .map(
        (row, i) =>
          `SELECT ${[params.add(row.key), ...columns.map((c) => params.add(row.columns.get(c)))].map((p, j) => (i === 0 ? `${p} AS ${this.col(j === 0 ? 'provisio_k' : `provisio_c${j - 1}`)}` : p)).join(', ')}`,
      )
      .join(' UNION ALL ');
    const sets = columns.map((c, i) => `t.${this.col(c)} = v.${this.col(`provisio_c${i}`)}`);
    if (stamp) sets.push(`t.${this.col(stamp)} = ${this.nowSql()}`);
    const sql = `UPDATE ${table.ref} AS t JOIN (${derived}) AS v ON t.${key} = v.${this.col('provisio_k')} SET ${sets.join(', ')}`;
    await this.call('write', what, (db) => db.query(sql, params.values), rows.length);
    return this.matchRows(table, rows, await this.rowsByKeys(table, rows.map((r) => r.key)), notFound);
  }

  private async deleteRows(table: Table, operations: Extract<WriteOperation, { kind: 'delete' }>[]): Promise<WriteOutcome[]> {
    const params = new Params(this.driver);
    const list = operations.map((op) => params.add(op.uid)).join(', ');
    const sql = `DELETE FROM ${table.ref} WHERE ${this.col(table.mapping.keyColumn)} IN (${list}) RETURNING ${this.col(table.mapping.keyColumn)} AS ${this.col(KEY_ALIAS)}`;
    const what = operations.length === 1 ? `delete ${operations[0].objectClass} ${operations[0].uid}` : `delete ${operations.length} rows from ${table.mapping.table}`;
    const { rows } = await this.call('write', what, (db) => db.query(sql, params.values), operations.length);
    const deleted = new KeySet(rows.map((r) => r[KEY_ALIAS]));
    // a uid deleted twice in one batch: the second finds nothing
    return operations.map((op) => (deleted.consume(op.uid) ? { ok: true } : { ok: false, error: new ConnectorError(ConnectorErrorCode.NotFound, `delete ${op.objectClass} ${op.uid}: no such row`) }));
  }

  private async existingKeys(table: Table, keys: Array<string | number>): Promise<Set<string>> {
    const params = new Params(this.driver);
    const sql = `SELECT ${this.col(table.mapping.keyColumn)} AS ${this.col(KEY_ALIAS)} FROM ${table.ref} WHERE ${this.col(table.mapping.keyColumn)} IN (${keys.map((k) => params.add(k)).join(', ')})`;
    const { rows } = await this.call('read', `look up ${keys.length} keys in ${table.mapping.table}`, (db) => db.query(sql, params.values));
    const found = new KeySet(rows.map((r) => r[KEY_ALIAS]));
    return new Set(keys.map(String).filter((k) => found.has(k)));
  }

  private async rowsByKeys(table: Table, keys: Array<string | number>): Promise<Row[]> {
    const params = new Params(this.driver);
    const sql = `SELECT ${table.select} FROM ${table.ref} WHERE ${this.col(table.mapping.keyColumn)} IN (${keys.map((k) => params.add(k)).join(', ')})`;
    return (await this.call('read', `read ${keys.length} rows of ${table.mapping.table}`, (db) => db.query(sql, params.values))).rows;
  }

  /** Each prepared row's object from the rows the database returned, or the error `missing` gives. */
  private matchRows(table: Table, rows: PreparedRow[], returned: Row[], missing: (row: PreparedRow) => ConnectorError): Array<TargetObject | ConnectorError> {
    const byKey = new KeySet(returned.map((r) => r[KEY_ALIAS]), returned);
    return rows.map((row) => {
      const found = byKey.take(String(row.key));
      return found ? this.toObject(table, table.objectClass, found) : missing(row);
    });
  }

  // ---- paged reads --------------------------------------------------------------------------------------------

  private async *pages(objectClass: ObjectClass, options: SearchOptions, delta: { since: string | null } | null): AsyncGenerator<SearchPage> {
    const table = await this.table(objectClass);
    const pageSize = Math.max(1, Math.min(options.pageSize ?? this.config.pageSize, 50_000));
    const updatedAt = table.mapping.updatedAtColumn;
    if (delta && !updatedAt) throw new ConnectorError(ConnectorErrorCode.Unsupported, `${table.mapping.table} has no updatedAtColumn in this connector's mapping: no deltas`);
    let cursor: Cursor | null = options.cursor ? decodeCursor(options.cursor, delta !== null) : null;
    const segment = options.segment !== undefined ? decodeSegment(options.segment) : null;
    let watermark = delta?.since ?? null;
    const key = this.col(table.mapping.keyColumn);
    const pg = this.driver.dialect === 'postgres';

    for (let pageNumber = 1; ; pageNumber++) {
      const params = new Params(this.driver);
      const where: string[] = [];
      if (options.filter) where.push(this.filterSql(table, options.filter, params));
      if (segment?.a !== undefined && (!cursor || delta)) where.push(`${key} >= ${params.add(segment.a)}`);
      if (segment?.b !== undefined) where.push(`${key} < ${params.add(segment.b)}`);
      let order = key;
      if (delta) {
        const ts = this.col(updatedAt!);
        if (delta.since !== null) where.push(`${ts} >= ${this.timestampParam(params, delta.since)}`);
        if (cursor && isDeltaCursor(cursor)) {
          if (pg) {
            where.push(`(${ts}, ${key}) > (${this.timestampParam(params, cursor.u)}, ${params.add(cursor.k)})`);
          } else {
            // MariaDB's optimiser does not use an index for a row comparison: the same condition spelt out
            const after = `${ts} > ${this.timestampParam(params, cursor.u)}`;
            const same = `${ts} = ${this.timestampParam(params, cursor.u)}`;
            where.push(`(${after} OR (${same} AND ${key} > ${params.add(cursor.k)}))`);
          }
        }
        order = `${ts}, ${key}`;
      } else if (cursor) {
        where.push(`${key} > ${params.add(cursor.k)}`);
      }
      const sql = `SELECT ${table.select} FROM ${table.ref}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order} LIMIT ${pageSize + 1}`;
      const { rows } = await this.call('read', `search ${table.mapping.table} page ${pageNumber}`, (db) => db.query(sql, params.values));
      const last = rows.length <= pageSize;
      const pageRows = last ? rows : rows.slice(0, pageSize);
      const objects = pageRows.map((row) => this.toObject(table, objectClass, row));
      const lastRow = pageRows[pageRows.length - 1];
      if (lastRow) cursor = delta ? { u: String(lastRow[UPDATED_ALIAS]), k: lastRow[KEY_ALIAS] as string | number } : { k: lastRow[KEY_ALIAS] as string | number };
      const page: SearchPage = { objects, nextCursor: last || !cursor ? null : encodeCursor(cursor) };
      if (delta) {
        const newest = lastRow ? String(lastRow[UPDATED_ALIAS]) : watermark === null ? await this.serverNow() : null;
        if (newest !== null) watermark = laterWatermark(watermark, newest, this.config.deltaOverlapMs);
        if (watermark !== null) page.watermark = watermark;
      }
      yield page;
      if (last) return;
    }
  }

  private async serverNow(): Promise<string> {
    const sql = this.driver.dialect === 'postgres' ? `SELECT ${this.timestampText('clock_timestamp()')} AS now` : `SELECT DATE_FORMAT(UTC_TIMESTAMP(6), ${TS_FORMAT_MARIADB}) AS now`;
    const { rows } = await this.call('read', 'read the server time', (db) => db.query(sql));
    return String(rows[0].now);
  }

  private filterSql(table: Table, filter: SearchFilter, params: Params): string {
    switch (filter.op) {
      case 'eq':
        return `${this.col(this.columnOf(table, filter.attribute))} = ${params.add(typeof filter.value === 'string' ? wellFormed(filter.attribute, filter.value) : filter.value)}`;
      case 'present':
        return `${this.col(this.columnOf(table, filter.attribute))} IS NOT NULL`;
      case 'and':
      case 'or':
        if (filter.filters.length === 0) return filter.op === 'and' ? '1 = 1' : '1 = 0';
        return `(${filter.filters.map((f) => this.filterSql(table, f, params)).join(filter.op === 'and' ? ' AND ' : ' OR ')})`;
      default:
        throw new ConnectorError(ConnectorErrorCode.BadRequest, `unknown filter op '${(filter as { op: string }).op}'`);
    }
  }

  private columnOf(table: Table, attribute: string): string {
    const column = table.mapping.columns[attribute];
    if (!column) throw new ConnectorError(ConnectorErrorCode.InvalidAttribute, `${attribute} is not mapped to a column of ${table.mapping.table}`, { attribute });
    return column;
  }
}

interface PreparedRow {
  key: string | number;
  columns: Map<string, unknown>;
  what: string;
}

/** Keys as the database returned them, matched to uids exactly, else case-insensitively (a _ci collation). */
class KeySet {
  private readonly exact = new Map<string, Row | true>();
  private readonly folded = new Map<string, Row | true>();
  constructor(keys: unknown[], rows?: Row[]) {
    keys.forEach((key, i) => {
      const text = String(key);
      this.exact.set(text, rows?.[i] ?? true);
      this.folded.set(text.toLowerCase(), rows?.[i] ?? true);
    });
  }
  has(key: string): boolean {
    return this.exact.has(key) || this.folded.has(key.toLowerCase());
  }
  take<T extends Row | true = Row>(key: string): T | undefined {
    return (this.exact.get(key) ?? this.folded.get(key.toLowerCase())) as T | undefined;
  }
  consume(key: string): boolean {
    const found = this.has(key);
    this.exact.delete(key);
    this.folded.delete(key.toLowerCase());
    return found;
  }
}

/** A lone UTF-16 surrogate has no UTF-8 form: the driver would send U+FFFD, silently changing the value. */
function wellFormed(name: string, value: string): string {
  if (/\p{Cs}/u.test(value)) throw new ConnectorError(ConnectorErrorCode.InvalidAttribute, `${name}: the value holds a lone UTF-16 surrogate`, { attribute: name });
  return value;
}

function sortedMap(map: Map<string, unknown>): Map<string, unknown> {
  return new Map([...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function lowerKeys(row: Row): Row {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k.toLowerCase(), v]));
}

/** pg's udt names are plain identifiers, except array types (`_int4`), which are too. */
function quoteAny(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function fromDb(value: unknown): AttributeValue {
  if (value === undefined || value === null) return null;
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (typeof value === 'bigint') return value.toString();
  return value as AttributeValue;
}

function sameValue(actual: unknown, expected: string | number | boolean): boolean {
  if (typeof expected === 'boolean') return actual === expected || (typeof actual === 'number' && actual === (expected ? 1 : 0)) || String(actual) === String(expected);
  return String(actual) === String(expected);
}

function typeOfColumn(dataType: string): SchemaAttribute['type'] {
  const t = dataType.toLowerCase();
  if (/^(smallint|integer|bigint|int|tinyint|mediumint)$/.test(t)) return 'integer';
  if (/^(numeric|decimal|real|double precision|double|float)$/.test(t)) return 'decimal';
  if (/^bool/.test(t)) return 'boolean';
  if (/timestamp|datetime|^date$/.test(t)) return 'datetime';
  if (/bytea|blob|binary/.test(t)) return 'binary';
  if (/json/.test(t)) return 'complex';
  return 'string';
}

/** The later of a watermark and `newest` less the overlap (both ISO 8601; microseconds kept when no overlap). */
export function laterWatermark(previous: string | null, newest: string, overlapMs: number): string {
  const candidate = overlapMs === 0 ? newest : new Date(Date.parse(newest) - overlapMs).toISOString();
  if (previous === null) return candidate;
  const a = Date.parse(previous);
  const b = Date.parse(candidate);
  return a > b || (a === b && previous >= candidate) ? previous : candidate;
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

function encodeSegment(segment: KeySegment): string {
  return Buffer.from(JSON.stringify(segment), 'utf8').toString('base64url');
}

function decodeSegment(text: string): KeySegment {
  try {
    const segment = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as KeySegment;
    const bound = (v: unknown) => v === undefined || typeof v === 'string' || typeof v === 'number';
    if (segment && typeof segment === 'object' && !Array.isArray(segment) && bound(segment.a) && bound(segment.b)) return segment;
  } catch {
    // fall through
  }
  throw new ConnectorError(ConnectorErrorCode.BadRequest, 'not a segment of a SQL search');
}

function decodeCursor(text: string, delta: boolean): Cursor {
  try {
    const cursor = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Cursor;
    const keyOk = typeof cursor.k === 'string' || typeof cursor.k === 'number';
    if (keyOk && (!delta || (isDeltaCursor(cursor) && Number.isFinite(Date.parse(cursor.u))))) return cursor;
  } catch {
    // fall through
  }
  throw new ConnectorError(ConnectorErrorCode.BadRequest, `not a cursor of a SQL ${delta ? 'delta ' : ''}search`);
}
