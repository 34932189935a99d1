/**
 * The LDAP connector (ldapts): accounts and groups as entries under configured containers, uid = the
 * entry's DN. Every call goes through the governor (limits, timeouts); DNs are built with RFC 4514 escaping
 * and filters from ldapts filter objects, so attribute values are never syntax.
 *
 * Paged search: Simple Paged Results (RFC 2696) on a connection of its own, since a cookie lives only as long
 * as its connection. A page's cursor is a position (see LdapCursor): resuming re-runs the search, skips the
 * entries before the cursor's position and checks the last delivered DN is where it was. If entries were
 * added or removed before it meanwhile, the DN is looked for within a page either side; when it has gone,
 * delivery restarts one page before the position, so at most one page is read again and none is skipped.
 */
import { AndFilter, Attribute, Change, Client, EqualityFilter, Filter, GreaterThanEqualsFilter } from 'ldapts';
import type { Entry as SearchEntry } from 'ldapts';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import {
  Attributes,
  AttributeDelta,
  ConnectionTestResult,
  Connector,
  ConnectorSchema,
  ObjectClass,
  SearchOptions,
  SearchPage,
  TargetObject,
  WriteOperation,
  WriteOutcome,
} from '../connector';
import { ConnectorError, ConnectorErrorCode } from '../connector-errors';
import { ConnectorGovernor, GovernedCallKind } from '../governor';
import { LdapConfig, LdapCredentials } from './ldap-config';
import { isUnder, normalizeDn, rdn } from './ldap-dn';
import { toConnectorError } from './ldap-errors';
import { checkAttributeName, toLdapFilter } from './ldap-filter';
import { LdapClientPool } from './ldap-pool';
import { buildSchemaObjectClass } from './ldap-schema';
import { attributeOf, decodeCursor, encodeCursor, formatGeneralizedTime, fromLdapValues, LdapCursor, parseGeneralizedTime, toLdapValues } from './ldap-values';

const PAGED_RESULTS_OID = '1.2.840.113556.1.4.319';
const START_TLS_OID = '1.3.6.1.4.1.1466.20037';
/** Attributes a read never returns as data: the connector reports them as enabled/modifiedAt or not at all. */
const OPERATIONAL = new Set(['objectclass', 'modifytimestamp', 'createtimestamp', 'entryuuid', 'entrydn', 'creatorsname', 'modifiersname', 'subschemasubentry']);

interface ClassSettings {
  containerDn: string;
  rdnAttribute: string;
  objectClasses: string[];
  /** `(objectClass=<last configured class>)`: what a search of this class matches. */
  filter: Filter;
}

export class LdapConnector implements Connector {
  readonly type = 'ldap' as const;
  private readonly governor: ConnectorGovernor;
  private readonly pool: LdapClientPool;
  private readonly classes: Record<ObjectClass, ClassSettings>;
  private readonly enableAttribute: string;

  constructor(
    private readonly config: LdapConfig,
    credentials: LdapCredentials,
  ) {
    this.governor = new ConnectorGovernor(config.limits);
    const tlsOptions: ConnectionOptions = {
      ca: config.tls.ca ? [config.tls.ca] : undefined,
      rejectUnauthorized: config.tls.rejectUnauthorized,
      // SNI takes host names only (Node refuses an IP address there)
      servername: config.tls.servername ?? (isIP(hostOf(config.url)) ? undefined : hostOf(config.url)),
    };
    this.pool = new LdapClientPool({
      url: config.url,
      startTls: config.startTls,
      tlsOptions,
      bindDn: config.bindDn,
      password: credentials.password,
      size: config.limits.maxConnections,
      timeoutMs: config.limits.timeoutMs,
    });
    const settings = (c: LdapConfig['accounts']): ClassSettings => ({
      containerDn: c.container ? `${c.container},${config.baseDn}` : config.baseDn,
      rdnAttribute: c.rdnAttribute,
      objectClasses: c.objectClasses,
      filter: new EqualityFilter({ attribute: 'objectClass', value: c.objectClasses[c.objectClasses.length - 1] }),
    });
    this.classes = { account: settings(config.accounts), group: settings(config.groups) };
    this.enableAttribute = config.enable.attribute;
  }

  async create(objectClass: ObjectClass, attributes: Attributes): Promise<TargetObject> {
    const settings = this.classes[objectClass];
    const rdnValue = attributeOf(attributes, settings.rdnAttribute);
    if (typeof rdnValue !== 'string' || rdnValue === '') {
      throw new ConnectorError(ConnectorErrorCode.InvalidAttribute, `create ${objectClass}: ${settings.rdnAttribute} (the RDN attribute) must be a non-empty string`, {
        attribute: settings.rdnAttribute,
      });
    }
    const dn = `${rdn(settings.rdnAttribute, rdnValue)},${settings.containerDn}`;
    const entry: Attribute[] = [];
    if (attributeOf(attributes, 'objectClass') === undefined) entry.push(new Attribute({ type: 'objectClass', values: settings.objectClasses }));
    const stored: Attributes = {};
    for (const [name, value] of Object.entries(attributes)) {
      const values = toLdapValues(checkAttributeName(name), value);
      if (values.length === 0) continue;
      entry.push(new Attribute({ type: name, values }));
      stored[name] = value;
    }
    await this.call('write', `create ${objectClass} ${dn}`, (client) => client.add(dn, entry));
    return { uid: dn, objectClass, attributes: stored, enabled: true };
  }

  async update(objectClass: ObjectClass, uid: string, delta: AttributeDelta): Promise<TargetObject> {
    const dn = this.checkUid(uid);
    const settings = this.classes[objectClass];
    const changes: Change[] = [];
    for (const [name, value] of Object.entries(delta.replace)) {
      if (name.toLowerCase() === settings.rdnAttribute.toLowerCase()) {
        const current = normalizeDn(rdn(settings.rdnAttribute, typeof value === 'string' ? value : ''));
        if (!normalizeDn(dn).startsWith(`${current},`)) {
          throw new ConnectorError(ConnectorErrorCode.Unsupported, `update ${dn}: changing ${name} renames the entry, which the LDAP connector does not do`, { attribute: name });
        }
        continue;
      }
      changes.push(new Change({ operation: 'replace', modification: new Attribute({ type: checkAttributeName(name), values: toLdapValues(name, value) }) }));
    }
    // A replace with no values removes the attribute and, unlike a delete, is no error when it is absent.
    for (const name of delta.remove) changes.push(new Change({ operation: 'replace', modification: new Attribute({ type: checkAttributeName(name), values: [] }) }));
    if (changes.length > 0) await this.call('write', `update ${dn}`, (client) => client.modify(dn, changes));
    const after = await this.get(objectClass, dn);
    if (!after) throw new ConnectorError(ConnectorErrorCode.NotFound, `update ${dn}: no such entry`);
    return after;
  }

  async delete(_objectClass: ObjectClass, uid: string): Promise<void> {
    const dn = this.checkUid(uid);
    await this.call('write', `delete ${dn}`, (client) => client.del(dn));
  }

  enable(_objectClass: ObjectClass, uid: string): Promise<void> {
    return this.setEnabled(uid, true);
  }

  disable(_objectClass: ObjectClass, uid: string): Promise<void> {
    return this.setEnabled(uid, false);
  }

  async get(objectClass: ObjectClass, uid: string): Promise<TargetObject | null> {
    if (!this.isOurs(uid)) return null;
    try {
      const { searchEntries } = await this.call('read', `get ${uid}`, (client) =>
        client.search(uid, { scope: 'base', attributes: this.readAttributes(), sizeLimit: 1 }),
      );
      // an entry of the other class (a group's DN asked for as an account) is not one of these
      const entry = searchEntries[0];
      return entry && this.isOfClass(objectClass, entry) ? this.toObject(objectClass, entry) : null;
    } catch (error) {
      if (error instanceof ConnectorError && error.code === ConnectorErrorCode.NotFound) return null;
      throw error;
    }
  }

  search(objectClass: ObjectClass, options: SearchOptions = {}): AsyncIterable<SearchPage> {
    const settings = this.classes[objectClass];
    const filter = options.filter ? new AndFilter({ filters: [settings.filter, toLdapFilter(options.filter)] }) : settings.filter;
    return this.pages(objectClass, filter, options, null);
  }

  searchChangedSince(objectClass: ObjectClass, watermark: string | null, options: SearchOptions = {}): AsyncIterable<SearchPage> {
    const settings = this.classes[objectClass];
    const filters: Filter[] = [settings.filter];
    if (options.filter) filters.push(toLdapFilter(options.filter));
    if (watermark !== null) {
      const since = Date.parse(watermark);
      if (!Number.isFinite(since)) throw new ConnectorError(ConnectorErrorCode.BadRequest, `'${watermark.slice(0, 40)}' is not an LDAP connector watermark (ISO 8601)`);
      filters.push(new GreaterThanEqualsFilter({ attribute: 'modifyTimestamp', value: formatGeneralizedTime(since) }));
    }
    return this.pages(objectClass, filters.length === 1 ? filters[0] : new AndFilter({ filters }), options, { since: watermark });
  }

  async writeBatch(operations: WriteOperation[]): Promise<WriteOutcome[]> {
    // LDAP has no multi-entry write: the writes go out concurrently (the governor caps them) on the pooled connections.
    return Promise.all(
      operations.map(async (operation): Promise<WriteOutcome> => {
        try {
          switch (operation.kind) {
            case 'create':
              return { ok: true, object: await this.create(operation.objectClass, operation.attributes) };
            case 'update':
              return { ok: true, object: await this.update(operation.objectClass, operation.uid, operation.delta) };
            case 'delete':
              await this.delete(operation.objectClass, operation.uid);
              return { ok: true };
            default:
              throw new ConnectorError(ConnectorErrorCode.BadRequest, `unknown write kind '${(operation as { kind: string }).kind}'`);
          }
        } catch (error) {
          return { ok: false, error: toConnectorError(error, `${operation.kind} ${operation.objectClass}`) };
        }
      }),
    );
  }

  async testConnection(): Promise<ConnectionTestResult> {
    const startedAt = Date.now();
    try {
      const root = await this.rootDse();
      const base = await this.call('read', `read ${this.config.baseDn}`, (client) => client.search(this.config.baseDn, { scope: 'base', attributes: ['1.1'] }));
      const controls = asList(root.supportedControl);
      return {
        ok: base.searchEntries.length === 1,
        latencyMs: Date.now() - startedAt,
        details: {
          vendorName: root.vendorName,
          vendorVersion: root.vendorVersion,
          pagedResults: controls.includes(PAGED_RESULTS_OID),
          startTls: asList(root.supportedExtension).includes(START_TLS_OID),
          namingContexts: asList(root.namingContexts),
        },
      };
    } catch (error) {
      const failure = toConnectorError(error, 'test connection');
      return { ok: false, latencyMs: Date.now() - startedAt, details: {}, error: { code: failure.code, message: failure.message } };
    }
  }

  async schema(): Promise<ConnectorSchema> {
    const root = await this.rootDse();
    const subschema = typeof root.subschemaSubentry === 'string' ? root.subschemaSubentry : 'cn=schema';
    const { searchEntries } = await this.call('read', `read ${subschema}`, (client) =>
      client.search(subschema, { scope: 'base', filter: '(objectClass=subschema)', attributes: ['objectClasses', 'attributeTypes'] }),
    );
    const entry = searchEntries[0];
    if (!entry) throw new ConnectorError(ConnectorErrorCode.Unsupported, `the server has no readable subschema subentry at ${subschema}`);
    const objectClasses = asList(entry.objectClasses);
    const attributeTypes = asList(entry.attributeTypes);
    return {
      objectClasses: (['account', 'group'] as const).map((name) => buildSchemaObjectClass(name, this.classes[name].objectClasses, objectClasses, attributeTypes)),
    };
  }

  async close(): Promise<void> {
    await this.governor.close();
    await this.pool.close();
  }

  // ---- internals --------------------------------------------------------------------------------------------

  private async call<T>(kind: GovernedCallKind, description: string, run: (client: Client) => Promise<T>): Promise<T> {
    try {
      return await this.governor.call({ kind, description, run: async () => run(await this.pool.client()) });
    } catch (error) {
      throw toConnectorError(error, description);
    }
  }

  private async setEnabled(uid: string, enabled: boolean): Promise<void> {
    const dn = this.checkUid(uid);
    const { disabledValue, enabledValue } = this.config.enable;
    const value = enabled ? enabledValue : disabledValue;
    const change = new Change({ operation: 'replace', modification: new Attribute({ type: this.enableAttribute, values: value === null ? [] : [value] }) });
    await this.call('write', `${enabled ? 'enable' : 'disable'} ${dn}`, (client) => client.modify(dn, change));
  }

  private async rootDse(): Promise<Record<string, unknown>> {
    const { searchEntries } = await this.call('read', 'read the root DSE', (client) =>
      client.search('', { scope: 'base', attributes: ['*', '+', 'subschemaSubentry', 'supportedControl', 'supportedExtension', 'vendorName', 'vendorVersion', 'namingContexts'] }),
    );
    return (searchEntries[0] ?? {}) as Record<string, unknown>;
  }

  /** DNs the connector writes must lie under baseDn: a uid from elsewhere is refused before it reaches the server. */
  private checkUid(uid: string): string {
    if (!this.isOurs(uid)) throw new ConnectorError(ConnectorErrorCode.BadRequest, `'${uid.slice(0, 200)}' is not a DN under ${this.config.baseDn}`);
    return uid;
  }

  private isOurs(uid: string): boolean {
    try {
      return isUnder(uid, this.config.baseDn);
    } catch {
      return false;
    }
  }

  private readAttributes(requested?: string[]): string[] {
    return [...(requested?.map(checkAttributeName) ?? ['*']), 'objectClass', 'modifyTimestamp', this.enableAttribute];
  }

  private isOfClass(objectClass: ObjectClass, entry: SearchEntry): boolean {
    const wanted = this.classes[objectClass].objectClasses.at(-1)!.toLowerCase();
    const key = Object.keys(entry).find((name) => name.toLowerCase() === 'objectclass');
    const values = key ? entry[key] : [];
    return (Array.isArray(values) ? values : [values]).some((value) => String(value).toLowerCase() === wanted);
  }

  private toObject(objectClass: ObjectClass, entry: SearchEntry): TargetObject {
    const attributes: Attributes = {};
    let modifiedAt: string | undefined;
    let lock: string | undefined;
    const enableKey = this.enableAttribute.toLowerCase();
    for (const [name, values] of Object.entries(entry)) {
      if (name === 'dn' || (Array.isArray(values) && values.length === 0)) continue;
      const key = name.toLowerCase();
      if (key === enableKey) {
        const value = fromLdapValues(values);
        lock = Array.isArray(value) ? String(value[0]) : String(value);
      } else if (key === 'modifytimestamp') {
        const ms = parseGeneralizedTime(String(fromLdapValues(values)));
        if (ms !== null) modifiedAt = new Date(ms).toISOString();
      } else if (!OPERATIONAL.has(key)) {
        attributes[name] = fromLdapValues(values);
      }
    }
    const { enabledValue } = this.config.enable;
    const enabled = enabledValue === null ? lock === undefined : lock === undefined || lock === enabledValue;
    return { uid: entry.dn, objectClass, attributes, enabled, modifiedAt };
  }

  /**
   * Pages of a search, read as the caller iterates. `delta` is set for a changed-since search: the last page
   * carries the new watermark, earlier pages the old one (see ldap-values' LdapCursor for what a cursor holds).
   */
  private async *pages(objectClass: ObjectClass, filter: Filter, options: SearchOptions, delta: { since: string | null } | null): AsyncGenerator<SearchPage> {
    const pageSize = Math.max(1, Math.min(options.pageSize ?? this.config.pageSize, 10_000));
    const cursor = options.cursor ? decodeCursor(options.cursor) : null;
    const startedAt = cursor?.t ?? Date.now();
    let newest = cursor?.m ?? null;
    const settings = this.classes[objectClass];
    const entries = this.entries(settings.containerDn, filter, this.readAttributes(options.attributes), Math.max(pageSize, this.config.serverPageSize));

    // Positions: `position` counts the entries the server has returned in this search; `next` is the position
    // of the entry after the last one delivered (what a cursor's `n` holds).
    let position = 0;
    let next = 0;
    let lastDn = cursor?.dn ?? '';
    let seeking = cursor !== null;
    const wantedDn = cursor ? normalizeDn(cursor.dn) : '';
    let window: Array<{ entry: SearchEntry; position: number }> = [];
    let page: TargetObject[] = [];
    let yielded = false;

    const pageOf = (objects: TargetObject[], last: boolean): SearchPage => {
      const result: SearchPage = {
        objects,
        nextCursor: last ? null : encodeCursor({ v: 1, n: next, dn: lastDn, ...(delta ? { t: startedAt, m: newest } : {}) } satisfies LdapCursor),
      };
      if (delta) {
        const watermark = last ? this.nextWatermark(delta.since, newest, startedAt) : delta.since;
        if (watermark !== null) result.watermark = watermark;
      }
      return result;
    };
    const deliver = (entry: SearchEntry, at: number) => {
      const object = this.toObject(objectClass, entry);
      if (object.modifiedAt) newest = Math.max(newest ?? 0, Date.parse(object.modifiedAt));
      page.push(object);
      next = at + 1;
      lastDn = entry.dn;
    };

    try {
      for await (const entry of entries) {
        const at = position++;
        if (seeking && cursor) {
          if (normalizeDn(entry.dn) === wantedDn) {
            seeking = false;
            window = [];
            next = at + 1;
            continue;
          }
          if (at >= cursor.n - pageSize) window.push({ entry, position: at });
          if (at < cursor.n + pageSize - 1) continue;
          // The last delivered entry is gone: deliver again from one page before where it was.
          seeking = false;
          const replay = window;
          window = [];
          for (const item of replay) {
            if (page.length === pageSize) {
              yield pageOf(page, false);
              yielded = true;
              page = [];
            }
            deliver(item.entry, item.position);
          }
          continue;
        }
        if (page.length === pageSize) {
          yield pageOf(page, false);
          yielded = true;
          page = [];
        }
        deliver(entry, at);
      }
      if (seeking) for (const item of window) deliver(item.entry, item.position);
      if (page.length > 0 || !yielded) yield pageOf(page, true);
    } finally {
      await entries.return?.(undefined);
    }
  }

  private nextWatermark(since: string | null, newest: number | null, startedAt: number): string | null {
    const previous = since === null ? null : Date.parse(since);
    if (newest === null) return since ?? new Date(startedAt - this.config.deltaOverlapMs).toISOString();
    const candidate = Math.min(newest, startedAt) - this.config.deltaOverlapMs;
    return new Date(previous === null ? candidate : Math.max(previous, candidate)).toISOString();
  }

  /** Entries of a paged search, one server page at a time (each page fetch is one governed read). */
  private async *entries(base: string, filter: Filter, attributes: string[], pageSize: number): AsyncGenerator<SearchEntry> {
    let client: Client | null = null;
    try {
      client = await this.governor.call({ kind: 'read', description: `connect for a search of ${base}`, run: () => this.pool.dedicated() }).catch((error: unknown) => {
        throw toConnectorError(error, `search ${base}`);
      });
      const searchClient = client;
      const serverPages = searchClient.searchPaginated(base, { scope: 'sub', filter, attributes, paged: { pageSize } });
      let pageNumber = 0;
      for (;;) {
        pageNumber++;
        const result = await this.governor
          .call({ kind: 'read', description: `search ${base} page ${pageNumber}`, run: () => serverPages.next() })
          .catch((error: unknown) => {
            throw toConnectorError(error, `search ${base} page ${pageNumber}`);
          });
        if (result.done) return;
        yield* result.value.searchEntries;
      }
    } finally {
      await client?.unbind().catch(() => undefined);
    }
  }
}

function asList(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));
}

function hostOf(url: string): string {
  return new URL(url).hostname.replace(/^\[|\]$/g, '');
}
