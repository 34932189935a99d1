/**
 * The one interface every target system is reached through (SCIM 2.0, LDAP, SQL). The provisioning
 * queue writes through it and the reconciler reads through it, so nothing about a target's protocol
 * leaks into either. Every method fails only with a ConnectorError (connector-errors.ts).
 */

export type ConnectorType = 'scim' | 'ldap' | 'sql';
export const CONNECTOR_TYPES: readonly ConnectorType[] = ['scim', 'ldap', 'sql'];

/** The object classes Provisio provisions. Each connector maps them to its own (SCIM Users/Groups, LDAP objectClass, a table). */
export type ObjectClass = 'account' | 'group';

export type AttributeValue = string | number | boolean | null | AttributeValue[] | { [name: string]: AttributeValue };
/** Attributes by the target's own names (after mapping): `userName`, `mail`, `email` … */
export type Attributes = Record<string, AttributeValue>;

/** An object as the target holds it. */
export interface TargetObject {
  /** The target's identifier: SCIM `id`, LDAP DN, the SQL key column. Stable for the object's life (an LDAP rename changes it). */
  uid: string;
  objectClass: ObjectClass;
  attributes: Attributes;
  /** False when disabled through the connector's enable/disable mechanism; undefined when the target has none. */
  enabled?: boolean;
  /** When the target last changed it (SCIM `meta.lastModified`, LDAP `modifyTimestamp`, SQL `updated_at`), ISO 8601. */
  modifiedAt?: string;
  /** Version tag for optimistic concurrency (SCIM ETag), when the target gives one. */
  etag?: string;
}

/**
 * An attribute change: the attributes to set (replace) and those to remove. Computed from a before/after
 * pair by `diffAttributes`; SCIM sends it as PATCH operations, LDAP as modify changes, SQL as an UPDATE
 * of those columns only.
 */
export interface AttributeDelta {
  replace: Attributes;
  remove: string[];
}

/** Which objects a search returns. Values are data, never syntax: each connector escapes them for its protocol. */
export type SearchFilter =
  | { op: 'eq'; attribute: string; value: string | number | boolean }
  | { op: 'present'; attribute: string }
  | { op: 'and' | 'or'; filters: SearchFilter[] };

export interface SearchOptions {
  filter?: SearchFilter;
  /** Objects per page (the connector may cap it at what the target allows). */
  pageSize?: number;
  /**
   * Where to resume: the `nextCursor` of a page an earlier search returned. A search resumed from a
   * page's cursor returns the pages after it; the reconciler checkpoints these.
   */
  cursor?: string;
  /** Attributes to read (default: all the connector maps). */
  attributes?: string[];
  /**
   * Only the objects of one segment, as `segments` cut them: a search of its own, paged and resumable
   * (its cursors stay inside the segment). Only for connectors with `segments`.
   */
  segment?: string;
}

export interface SearchPage {
  objects: TargetObject[];
  /** Resume here to get the next page; null on the last page. */
  nextCursor: string | null;
  /** For a changed-since search: the watermark to pass next time once this page has been processed. */
  watermark?: string;
  /** The target's total count when it tells (SCIM `totalResults`), for progress. */
  total?: number;
}

export interface ConnectionTestResult {
  ok: boolean;
  latencyMs: number;
  /** What the target says of itself (server vendor, SCIM ServiceProviderConfig features, database version). */
  details: Record<string, unknown>;
  /** Why it failed, when it did (the ConnectorError's code and message). */
  error?: { code: string; message: string };
}

export interface SchemaAttribute {
  name: string;
  type: 'string' | 'integer' | 'decimal' | 'boolean' | 'datetime' | 'binary' | 'reference' | 'complex';
  multiValued: boolean;
  required: boolean;
  /** The target fills it in itself (SCIM `readOnly`, an identity column, `modifyTimestamp`). */
  readOnly: boolean;
}

export interface SchemaObjectClass {
  name: ObjectClass;
  /** The target's own name for it: `User`, `inetOrgPerson`, `accounts`. */
  nativeName: string;
  attributes: SchemaAttribute[];
}

export interface ConnectorSchema {
  objectClasses: SchemaObjectClass[];
}

/** One write of a batch. */
export type WriteOperation =
  | { kind: 'create'; objectClass: ObjectClass; attributes: Attributes }
  | { kind: 'update'; objectClass: ObjectClass; uid: string; delta: AttributeDelta; etag?: string }
  | { kind: 'delete'; objectClass: ObjectClass; uid: string };

/** The outcome of one write of a batch, in the batch's order: a batch never fails as a whole for one bad write. */
export type WriteOutcome = { ok: true; object?: TargetObject } | { ok: false; error: import('./connector-errors').ConnectorError };

export interface Connector {
  readonly type: ConnectorType;

  create(objectClass: ObjectClass, attributes: Attributes): Promise<TargetObject>;
  /** Applies the delta; `etag` makes it conditional where the target supports it. Returns the object after the change. */
  update(objectClass: ObjectClass, uid: string, delta: AttributeDelta, options?: { etag?: string }): Promise<TargetObject>;
  delete(objectClass: ObjectClass, uid: string): Promise<void>;
  enable(objectClass: ObjectClass, uid: string): Promise<void>;
  disable(objectClass: ObjectClass, uid: string): Promise<void>;
  /** The object, or null when the target has none with this uid. */
  get(objectClass: ObjectClass, uid: string): Promise<TargetObject | null>;
  /** Pages of objects, read one page at a time as the caller iterates: 1M objects never sit in memory. */
  search(objectClass: ObjectClass, options?: SearchOptions): AsyncIterable<SearchPage>;
  /** Pages of the objects changed since `watermark` (null: all), each page carrying the watermark to keep. */
  searchChangedSince(objectClass: ObjectClass, watermark: string | null, options?: SearchOptions): AsyncIterable<SearchPage>;
  /**
   * Optional: cuts a full search into at most `count` segments (opaque strings for `SearchOptions.segment`)
   * that several readers can page through at once, together holding every object once. Fewer when the
   * target holds few objects. Connectors that cannot cut a search (LDAP paged results) leave it out, and
   * their search is read as one segment.
   */
  segments?(objectClass: ObjectClass, count: number, options?: { filter?: SearchFilter; pageSize?: number }): Promise<string[]>;
  /** Several writes at once: SQL batches them in one statement, SCIM uses Bulk when the server offers it. */
  writeBatch(operations: WriteOperation[]): Promise<WriteOutcome[]>;
  testConnection(): Promise<ConnectionTestResult>;
  schema(): Promise<ConnectorSchema>;
  /** Closes pooled connections; the connector is unusable afterwards. */
  close(): Promise<void>;
}

/**
 * The limits of one connector: targets publish theirs (e.g. 600 writes a minute) and Provisio must stay
 * under them, whatever the queue's concurrency.
 */
export interface ConnectorLimits {
  /** Pooled connections (HTTP keep-alive sockets, LDAP binds, database connections). */
  maxConnections: number;
  /** Calls in flight at once. */
  maxConcurrency: number;
  /** Writes (create, update, delete, enable, disable) per minute; unset: no limit. */
  writesPerMinute?: number;
  /** Calls of any kind per second; unset: no limit. */
  requestsPerSecond?: number;
  /** One call's time limit. */
  timeoutMs: number;
}

export const DEFAULT_CONNECTOR_LIMITS: ConnectorLimits = { maxConnections: 10, maxConcurrency: 10, timeoutMs: 30_000 };

/** The delta that turns `before` into `after` (attributes absent from `after` are not removed unless listed in `removable`). */
export function diffAttributes(before: Attributes, after: Attributes, removable: readonly string[] = []): AttributeDelta {
  const replace: Attributes = {};
  for (const [name, value] of Object.entries(after)) {
    if (!sameValue(before[name], value)) replace[name] = value;
  }
  const remove = removable.filter((name) => name in before && before[name] !== null && !(name in after && after[name] !== null));
  for (const name of remove) delete replace[name];
  return { replace, remove };
}

export function isEmptyDelta(delta: AttributeDelta): boolean {
  return delta.remove.length === 0 && Object.keys(delta.replace).length === 0;
}

function sameValue(a: AttributeValue | undefined, b: AttributeValue | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return (a ?? null) === (b ?? null);
  if (typeof a !== 'object' || typeof b !== 'object') return false;
  return JSON.stringify(a) === JSON.stringify(b);
}
