/**
 * The SCIM 2.0 connector (RFC 7643/7644): accounts are the configured User resource type, groups the Group
 * one. Writes are POST (create), PATCH computed from the delta (update, enable/disable through `active`)
 * with If-Match when an ETag is known, DELETE; reads are GET by id and list pages by `startIndex`/`count`
 * (the cursor is the next startIndex; one page is read ahead); deltas filter on `meta.lastModified`; batches go through /Bulk
 * when /ServiceProviderConfig says it is supported. Every call goes through the governor.
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
import { ScimConfig, ScimCredentials } from './scim-config';
import { httpError } from './scim-errors';
import { andFilters, toScimFilterAst } from './scim-filter';
import { HttpMethod, ScimHttp, ScimResponse } from './scim-http';
import { patchRequest } from './scim-patch';

const LIST_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const BULK_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
/** Attributes of a resource that are the resource's frame, not data: never in TargetObject.attributes. */
const FRAME = new Set(['schemas', 'id', 'meta']);

interface ScimResource {
  id?: unknown;
  meta?: { lastModified?: unknown; version?: unknown; location?: unknown };
  active?: unknown;
  [name: string]: unknown;
}

interface ScimListResponse {
  schemas?: unknown;
  totalResults?: unknown;
  startIndex?: unknown;
  itemsPerPage?: unknown;
  Resources?: unknown;
}

interface ServiceProviderConfig {
  bulk?: { supported?: boolean; maxOperations?: number; maxPayloadSize?: number };
  filter?: { supported?: boolean; maxResults?: number };
  etag?: { supported?: boolean };
  patch?: { supported?: boolean };
  sort?: { supported?: boolean };
  authenticationSchemes?: { type?: string }[];
}

interface BulkRequestOperation {
  method: 'POST' | 'PATCH' | 'DELETE';
  bulkId: string;
  path: string;
  data?: unknown;
  version?: string;
}

interface BulkResponseOperation {
  method?: string;
  bulkId?: string;
  location?: string;
  version?: string;
  status?: string | number;
  response?: unknown;
}

export class ScimConnector implements Connector {
  readonly type = 'scim' as const;
  private readonly http: ScimHttp;
  private readonly governor: ConnectorGovernor;
  private serviceProviderConfig: Promise<ServiceProviderConfig> | null = null;

  constructor(
    private readonly config: ScimConfig,
    credentials: ScimCredentials,
  ) {
    this.http = new ScimHttp(config, credentials);
    this.governor = new ConnectorGovernor(config.limits);
  }

  async create(objectClass: ObjectClass, attributes: Attributes): Promise<TargetObject> {
    const type = this.resourceType(objectClass);
    const response = await this.call<ScimResource>('write', 'POST', type.endpoint, { body: this.resourceBody(objectClass, attributes) });
    return this.toObject(objectClass, this.resourceOf(response, `SCIM POST ${type.endpoint}`), response);
  }

  async update(objectClass: ObjectClass, uid: string, delta: AttributeDelta, options: { etag?: string } = {}): Promise<TargetObject> {
    const body = patchRequest(delta);
    if (body.Operations.length === 0) {
      const current = await this.get(objectClass, uid);
      if (!current) throw new ConnectorError(ConnectorErrorCode.NotFound, `${this.describe(objectClass)} ${uid} not found`, { targetStatus: 404 });
      return current;
    }
    return this.patch(objectClass, uid, body, options.etag);
  }

  async delete(objectClass: ObjectClass, uid: string): Promise<void> {
    await this.call('write', 'DELETE', this.resourcePath(objectClass, uid));
  }

  async enable(objectClass: ObjectClass, uid: string): Promise<void> {
    await this.setActive(objectClass, uid, true);
  }

  async disable(objectClass: ObjectClass, uid: string): Promise<void> {
    await this.setActive(objectClass, uid, false);
  }

  async get(objectClass: ObjectClass, uid: string): Promise<TargetObject | null> {
    const response = await this.call<ScimResource>('read', 'GET', this.resourcePath(objectClass, uid), { accept: [404] });
    if (response.status === 404) return null;
    return this.toObject(objectClass, this.resourceOf(response, `SCIM GET ${this.resourceType(objectClass).endpoint}`), response);
  }

  search(objectClass: ObjectClass, options: SearchOptions = {}): AsyncIterable<SearchPage> {
    return this.pages(objectClass, options.filter ? andFilters(toScimFilterAst(options.filter)) : undefined, options);
  }

  /**
   * `startIndex` ranges over the server's `totalResults` (one request with count=1), each a whole number
   * of pages. As with any SCIM index paging, objects created or deleted while the segments are read can
   * shift the indexes (RFC 7644 §3.4.2.4 promises no stable order).
   */
  async segments(objectClass: ObjectClass, count: number, options: { filter?: SearchFilter; pageSize?: number } = {}): Promise<string[]> {
    const type = this.resourceType(objectClass);
    const query = new URLSearchParams({ startIndex: '1', count: '1' });
    if (options.filter) query.set('filter', andFilters(toScimFilterAst(options.filter))!);
    const response = await this.call<ScimListResponse>('read', 'GET', `${type.endpoint}?${query.toString()}`);
    const total = typeof response.body?.totalResults === 'number' && response.body.totalResults >= 0 ? Math.floor(response.body.totalResults) : null;
    const wanted = Math.max(1, Math.min(Math.floor(count), 1_000));
    if (total === null || total === 0 || wanted === 1) return [encodeSegment({ from: 1 })];
    const page = Math.max(1, Math.min(Math.floor(options.pageSize ?? this.config.pageSize), 10_000));
    const per = Math.max(page, Math.ceil(total / wanted / page) * page);
    const segments: string[] = [];
    for (let from = 1; from <= total; from += per) segments.push(encodeSegment(from + per > total ? { from } : { from, to: from + per }));
    return segments;
  }

  /**
   * Pages of what changed since `watermark` (`meta.lastModified ge`, so a change in the watermark's own
   * millisecond is read again rather than missed). The watermark kept after the last page is the server's
   * clock (its Date header) when the search began, not the newest lastModified seen: a change made while
   * the pages were read, to an object on a page already read, is then found next time. Earlier pages carry
   * the watermark the search started from, so a checkpoint taken mid-way loses nothing.
   */
  searchChangedSince(objectClass: ObjectClass, watermark: string | null, options: SearchOptions = {}): AsyncIterable<SearchPage> {
    if (watermark !== null && Number.isNaN(Date.parse(watermark))) {
      throw new ConnectorError(ConnectorErrorCode.BadRequest, `the watermark '${watermark.slice(0, 50)}' is not an ISO 8601 timestamp`);
    }
    const since = watermark === null ? undefined : ({ op: 'ge', attrPath: 'meta.lastModified', compValue: new Date(watermark).toISOString() } as const);
    const filter = andFilters(since, options.filter ? toScimFilterAst(options.filter) : undefined);
    return this.pages(objectClass, filter, options, { from: watermark ?? undefined });
  }

  async writeBatch(operations: WriteOperation[]): Promise<WriteOutcome[]> {
    if (operations.length === 0) return [];
    const bulk = this.config.bulk === 'auto' ? await this.bulkLimits() : null;
    if (!bulk) return Promise.all(operations.map((operation) => this.writeOne(operation)));
    const outcomes: WriteOutcome[] = [];
    for (let i = 0; i < operations.length; i += bulk.maxOperations) {
      outcomes.push(...(await this.bulk(operations.slice(i, i + bulk.maxOperations))));
    }
    return outcomes;
  }

  async testConnection(): Promise<ConnectionTestResult> {
    const startedAt = Date.now();
    try {
      const config = await this.call<ServiceProviderConfig>('read', 'GET', '/ServiceProviderConfig');
      const spc = config.body ?? {};
      return {
        ok: true,
        latencyMs: Date.now() - startedAt,
        details: {
          patch: Boolean(spc.patch?.supported),
          bulk: spc.bulk?.supported ? { maxOperations: spc.bulk.maxOperations, maxPayloadSize: spc.bulk.maxPayloadSize } : false,
          filter: spc.filter?.supported ? { maxResults: spc.filter.maxResults } : false,
          etag: Boolean(spc.etag?.supported),
          sort: Boolean(spc.sort?.supported),
          authenticationSchemes: (spc.authenticationSchemes ?? []).map((s) => s.type).filter(Boolean),
        },
      };
    } catch (error) {
      const failure = error instanceof ConnectorError ? error : new ConnectorError(ConnectorErrorCode.NetworkError, String(error));
      return { ok: false, latencyMs: Date.now() - startedAt, details: {}, error: { code: failure.code, message: failure.message } };
    }
  }

  async schema(): Promise<ConnectorSchema> {
    const response = await this.call<ScimListResponse>('read', 'GET', '/Schemas');
    const schemas = Array.isArray(response.body?.Resources) ? (response.body!.Resources as { id?: string; attributes?: unknown[] }[]) : [];
    const objectClasses: ConnectorSchema['objectClasses'] = [];
    for (const objectClass of ['account', 'group'] as const) {
      const type = this.resourceType(objectClass);
      const ids = [type.schema, ...type.extensions];
      const attributes: SchemaAttribute[] = [];
      for (const schema of schemas.filter((s) => s.id && ids.includes(s.id))) {
        const prefix = schema.id === type.schema ? '' : `${schema.id}:`;
        for (const attribute of schema.attributes ?? []) {
          const mapped = schemaAttribute(attribute, prefix);
          if (mapped) attributes.push(mapped);
        }
      }
      if (attributes.length > 0) objectClasses.push({ name: objectClass, nativeName: nativeName(type.endpoint), attributes });
    }
    if (objectClasses.length === 0) throw new ConnectorError(ConnectorErrorCode.Unsupported, 'the service describes none of the configured schemas at /Schemas');
    return { objectClasses };
  }

  async close(): Promise<void> {
    await this.governor.close();
    await this.http.close();
  }

  // --- reads -------------------------------------------------------------------------------------------

  /** `changedSince`: a delta search, whose pages carry watermarks (from: the one it started from). */
  private async *pages(objectClass: ObjectClass, filter: string | undefined, options: SearchOptions, changedSince?: { from: string | undefined }): AsyncGenerator<SearchPage> {
    const type = this.resourceType(objectClass);
    // The server may return fewer than asked (its filter.maxResults): the next page starts after what came.
    const count = Math.max(1, Math.min(Math.floor(options.pageSize ?? this.config.pageSize), 10_000));
    const startWatermark = changedSince?.from;
    const segment = options.segment !== undefined ? decodeSegment(options.segment) : null;
    let startIndex = options.cursor === undefined && segment ? segment.from : parseCursor(options.cursor);
    let serverClockAtStart: string | undefined;
    let newestSeen: string | undefined;
    const fetchPage = (start: number) => {
      const query = new URLSearchParams({ startIndex: String(start), count: String(segment?.to !== undefined ? Math.max(1, Math.min(count, segment.to - start)) : count) });
      if (filter) query.set('filter', filter);
      if (options.attributes?.length) query.set('attributes', options.attributes.join(','));
      const request = this.call<ScimListResponse>('read', 'GET', `${type.endpoint}?${query.toString()}`);
      request.catch(() => undefined); // a read-ahead the caller never gets to is not an unhandled rejection
      return request;
    };
    // One page ahead: the server prepares page k+1 while the caller works through page k.
    let pending = fetchPage(startIndex);
    for (;;) {
      const what = `SCIM GET ${type.endpoint} (startIndex ${startIndex})`;
      const response = await pending;
      serverClockAtStart ??= serverClock(response.headers);
      const list = response.body;
      if (!list || typeof list !== 'object' || (Array.isArray(list.schemas) && !list.schemas.includes(LIST_RESPONSE))) {
        throw new ConnectorError(ConnectorErrorCode.InvalidResponse, `${what}: not a ListResponse`, { targetStatus: response.status });
      }
      const resources = list.Resources === undefined ? [] : list.Resources;
      if (!Array.isArray(resources)) throw new ConnectorError(ConnectorErrorCode.InvalidResponse, `${what}: Resources is not an array`, { targetStatus: response.status });
      const total = typeof list.totalResults === 'number' ? list.totalResults : undefined;
      const objects = resources.map((resource) => this.toObject(objectClass, resourceOrThrow(resource, what)));
      for (const object of objects) if (object.modifiedAt && (!newestSeen || object.modifiedAt > newestSeen)) newestSeen = object.modifiedAt;
      const next = startIndex + objects.length;
      // The last page: an empty one, or one that reaches totalResults (a server that omits it pages until empty).
      const last = objects.length === 0 || (total !== undefined && next > total) || (segment?.to !== undefined && next >= segment.to);
      const page: SearchPage = { objects, nextCursor: last ? null : String(next), ...(total !== undefined ? { total } : {}) };
      if (changedSince) page.watermark = last ? laterOf(startWatermark, serverClockAtStart ?? newestSeen) : startWatermark;
      if (!last) pending = fetchPage(next);
      yield page;
      if (last) return;
      startIndex = next;
    }
  }

  // --- writes ------------------------------------------------------------------------------------------

  private async patch(objectClass: ObjectClass, uid: string, body: ReturnType<typeof patchRequest>, etag?: string): Promise<TargetObject> {
    const headers = etag && this.config.etags ? { 'if-match': etag } : undefined;
    const response = await this.call<ScimResource>('write', 'PATCH', this.resourcePath(objectClass, uid), { body, headers });
    // 204: the server applied it without returning the resource (RFC 7644 §3.5.2): read it back.
    if (response.status === 204 || response.body === undefined) {
      const current = await this.get(objectClass, uid);
      if (!current) throw new ConnectorError(ConnectorErrorCode.NotFound, `${this.describe(objectClass)} ${uid} vanished after its PATCH`, { targetStatus: 404 });
      return current;
    }
    return this.toObject(objectClass, this.resourceOf(response, `SCIM PATCH ${this.resourceType(objectClass).endpoint}`), response);
  }

  private async setActive(objectClass: ObjectClass, uid: string, active: boolean): Promise<void> {
    if (objectClass !== 'account') throw new ConnectorError(ConnectorErrorCode.Unsupported, 'SCIM groups have no `active`: only accounts are enabled and disabled');
    await this.patch(objectClass, uid, patchRequest({ replace: { active }, remove: [] }));
  }

  private async writeOne(operation: WriteOperation): Promise<WriteOutcome> {
    try {
      switch (operation.kind) {
        case 'create':
          return { ok: true, object: await this.create(operation.objectClass, operation.attributes) };
        case 'update':
          return { ok: true, object: await this.update(operation.objectClass, operation.uid, operation.delta, { etag: operation.etag }) };
        case 'delete':
          await this.delete(operation.objectClass, operation.uid);
          return { ok: true };
        default: {
          const unknown: never = operation;
          throw new ConnectorError(ConnectorErrorCode.BadRequest, `unknown write ${JSON.stringify(unknown)}`);
        }
      }
    } catch (error) {
      if (error instanceof ConnectorError) return { ok: false, error };
      throw error;
    }
  }

  /**
   * One /Bulk request (RFC 7644 §3.7) without failOnErrors: every operation is tried, outcomes in order.
   * An operation that cannot even be written down (a bad attribute name) fails alone and is not sent; a
   * transient failure of the request as a whole (429, a timeout) is every sent operation's outcome — after
   * a timeout or a 5xx some of them may have been applied, which a retry finds (AlreadyExists, NotFound); a
   * permanent one has the operations sent one at a time.
   */
  private async bulk(operations: WriteOperation[]): Promise<WriteOutcome[]> {
    const outcomes: (WriteOutcome | undefined)[] = new Array(operations.length);
    const sent: { index: number; request: BulkRequestOperation }[] = [];
    operations.forEach((operation, index) => {
      try {
        sent.push({ index, request: this.bulkOperation(operation, `op${index}`) });
      } catch (error) {
        if (!(error instanceof ConnectorError)) throw error;
        outcomes[index] = { ok: false, error };
      }
    });
    if (sent.length === 0) return outcomes as WriteOutcome[];
    let answered: BulkResponseOperation[];
    try {
      const response = await this.call<{ Operations?: BulkResponseOperation[] }>(
        'write',
        'POST',
        '/Bulk',
        { body: { schemas: [BULK_REQUEST], Operations: sent.map((s) => s.request) } },
        sent.length,
      );
      answered = Array.isArray(response.body?.Operations) ? response.body!.Operations : [];
    } catch (error) {
      if (!(error instanceof ConnectorError)) throw error;
      if (error.transient || sent.length === 1) {
        for (const { index } of sent) outcomes[index] = { ok: false, error };
        return outcomes as WriteOutcome[];
      }
      // Refused as a whole for good (413: the writes together exceed the server's payload limit; a 400 for
      // one write the server would not isolate): each is sent on its own, so only a bad one fails.
      const singles = await Promise.all(sent.map(({ index }) => this.writeOne(operations[index])));
      sent.forEach(({ index }, i) => (outcomes[index] = singles[i]));
      return outcomes as WriteOutcome[];
    }
    const byBulkId = new Map(answered.filter((o) => o && typeof o.bulkId === 'string').map((o) => [o.bulkId!, o]));
    sent.forEach(({ index, request }, position) => {
      // Answers without bulkIds are matched by position: RFC 7644 returns them in the request's order.
      const answer = byBulkId.get(request.bulkId) ?? (byBulkId.size === 0 ? answered[position] : undefined);
      outcomes[index] = this.bulkOutcome(operations[index], request, answer);
    });
    return outcomes as WriteOutcome[];
  }

  private bulkOperation(operation: WriteOperation, bulkId: string): BulkRequestOperation {
    switch (operation.kind) {
      case 'create':
        return { method: 'POST', bulkId, path: this.resourceType(operation.objectClass).endpoint, data: this.resourceBody(operation.objectClass, operation.attributes) };
      case 'update':
        return {
          method: 'PATCH',
          bulkId,
          path: this.resourcePath(operation.objectClass, operation.uid),
          data: patchRequest(operation.delta),
          ...(operation.etag && this.config.etags ? { version: operation.etag } : {}),
        };
      case 'delete':
        return { method: 'DELETE', bulkId, path: this.resourcePath(operation.objectClass, operation.uid) };
      default: {
        const unknown: never = operation;
        throw new ConnectorError(ConnectorErrorCode.BadRequest, `unknown write ${JSON.stringify(unknown)}`);
      }
    }
  }

  private bulkOutcome(operation: WriteOperation, request: BulkRequestOperation, answer: BulkResponseOperation | undefined): WriteOutcome {
    const what = `SCIM Bulk ${request.method} ${request.path}`;
    if (!answer) return { ok: false, error: new ConnectorError(ConnectorErrorCode.InvalidResponse, `${what}: no outcome in the Bulk answer`) };
    const status = Number(answer.status);
    if (!Number.isInteger(status)) return { ok: false, error: new ConnectorError(ConnectorErrorCode.InvalidResponse, `${what}: outcome without a status`) };
    if (status >= 400) return { ok: false, error: httpError(what, status, answer.response, {}, request.method) };
    if (operation.kind === 'delete') return { ok: true };
    const resource = answer.response && typeof answer.response === 'object' ? (answer.response as ScimResource) : undefined;
    if (typeof resource?.id === 'string' && resource.id) return { ok: true, object: this.toObject(operation.objectClass, resource) };
    // An update answered without the resource: done, but there is no object to report.
    if (operation.kind === 'update') return { ok: true };
    const uid = lastSegment(answer.location);
    if (!uid) return { ok: false, error: new ConnectorError(ConnectorErrorCode.InvalidResponse, `${what}: created, but the answer has no location`) };
    // Created without the resource in the answer: the object is what was sent, with its new id.
    return { ok: true, object: { uid, objectClass: operation.objectClass, attributes: operation.attributes, ...(typeof answer.version === 'string' ? { etag: answer.version } : {}) } };
  }

  private async bulkLimits(): Promise<{ maxOperations: number } | null> {
    this.serviceProviderConfig ??= this.call<ServiceProviderConfig>('read', 'GET', '/ServiceProviderConfig')
      .then((response) => response.body ?? {})
      .catch((error: unknown) => {
        this.serviceProviderConfig = null; // ask again next time
        throw error;
      });
    const spc = await this.serviceProviderConfig;
    if (!spc.bulk?.supported) return null;
    const serverMax = typeof spc.bulk.maxOperations === 'number' && spc.bulk.maxOperations > 0 ? spc.bulk.maxOperations : this.config.bulkMaxOperations;
    return { maxOperations: Math.min(serverMax, this.config.bulkMaxOperations) };
  }

  // --- plumbing ----------------------------------------------------------------------------------------

  private call<T>(
    kind: GovernedCallKind,
    method: HttpMethod,
    path: string,
    options: { body?: unknown; headers?: Record<string, string>; accept?: number[] } = {},
    writes?: number,
  ): Promise<ScimResponse<T>> {
    return this.governor.call({
      kind,
      description: `SCIM ${method} ${path.split('?')[0]}`,
      writes,
      run: (signal) => this.http.request<T>({ method, path, signal, ...options }),
    });
  }

  private resourceType(objectClass: ObjectClass) {
    return this.config.resourceTypes[objectClass];
  }

  private resourcePath(objectClass: ObjectClass, uid: string): string {
    if (typeof uid !== 'string' || uid.length === 0 || uid.length > 1000) throw new ConnectorError(ConnectorErrorCode.BadRequest, 'a SCIM id must be a non-empty string');
    return `${this.resourceType(objectClass).endpoint}/${encodeURIComponent(uid)}`;
  }

  private describe(objectClass: ObjectClass): string {
    return nativeName(this.resourceType(objectClass).endpoint);
  }

  private resourceBody(objectClass: ObjectClass, attributes: Attributes): Record<string, AttributeValue> {
    const type = this.resourceType(objectClass);
    const body: Record<string, AttributeValue> = { schemas: [type.schema, ...type.extensions] };
    for (const [name, value] of Object.entries(attributes)) {
      if (FRAME.has(name)) continue; // the server owns id and meta
      if (value !== null) body[name] = value;
    }
    return body;
  }

  private resourceOf(response: ScimResponse<ScimResource>, what: string): ScimResource {
    return resourceOrThrow(response.body, what, response.status);
  }

  private toObject(objectClass: ObjectClass, resource: ScimResource, response?: ScimResponse<unknown>): TargetObject {
    const attributes: Attributes = {};
    for (const [name, value] of Object.entries(resource)) if (!FRAME.has(name)) attributes[name] = value as AttributeValue;
    const etag = typeof resource.meta?.version === 'string' ? resource.meta.version : header(response?.headers.etag);
    const modifiedAt = typeof resource.meta?.lastModified === 'string' ? resource.meta.lastModified : undefined;
    return {
      uid: String(resource.id),
      objectClass,
      attributes,
      ...(objectClass === 'account' && typeof resource.active === 'boolean' ? { enabled: resource.active } : {}),
      ...(modifiedAt ? { modifiedAt } : {}),
      ...(etag ? { etag } : {}),
    };
  }
}

function resourceOrThrow(value: unknown, what: string, status?: number): ScimResource {
  if (!value || typeof value !== 'object' || Array.isArray(value) || typeof (value as ScimResource).id !== 'string' || !(value as ScimResource).id) {
    throw new ConnectorError(ConnectorErrorCode.InvalidResponse, `${what}: the answer is not a SCIM resource with an id`, status === undefined ? {} : { targetStatus: status });
  }
  return value as ScimResource;
}

/** A `startIndex` range `[from, to)`; without `to`, to the end. */
interface IndexSegment {
  from: number;
  to?: number;
}

function encodeSegment(segment: IndexSegment): string {
  return segment.to === undefined ? String(segment.from) : `${segment.from}-${segment.to}`;
}

function decodeSegment(text: string): IndexSegment {
  const match = /^(\d{1,15})(?:-(\d{1,15}))?$/.exec(text);
  const from = match ? Number(match[1]) : 0;
  const to = match?.[2] !== undefined ? Number(match[2]) : undefined;
  if (!match || from < 1 || (to !== undefined && to <= from)) throw new ConnectorError(ConnectorErrorCode.BadRequest, `'${text.slice(0, 50)}' is not a segment of a SCIM search (startIndex[-end])`);
  return to === undefined ? { from } : { from, to };
}

function parseCursor(cursor: string | undefined): number {
  if (cursor === undefined) return 1;
  const index = Number(cursor);
  if (!/^\d+$/.test(cursor) || !Number.isSafeInteger(index) || index < 1) {
    throw new ConnectorError(ConnectorErrorCode.BadRequest, `'${cursor.slice(0, 50)}' is not a SCIM search cursor (a startIndex)`);
  }
  return index;
}

/** The server's clock from its Date header (second resolution, so never ahead of when it answered). */
function serverClock(headers: Record<string, string | string[] | undefined>): string | undefined {
  const date = header(headers.date);
  const at = date ? Date.parse(date) : NaN;
  return Number.isNaN(at) ? undefined : new Date(at).toISOString();
}

function laterOf(a: string | undefined, b: string | undefined): string | undefined {
  if (!a) return b;
  if (!b) return a;
  return Date.parse(b) > Date.parse(a) ? new Date(b).toISOString() : new Date(a).toISOString();
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function lastSegment(location: string | undefined): string | undefined {
  if (!location) return undefined;
  const path = location.split('?')[0].replace(/\/+$/, '');
  const segment = path.slice(path.lastIndexOf('/') + 1);
  return segment ? decodeURIComponent(segment) : undefined;
}

function nativeName(endpoint: string): string {
  const name = endpoint.replace(/^\/+|\/+$/g, '');
  return name.endsWith('s') ? name.slice(0, -1) : name;
}

const SCIM_TYPES: Record<string, SchemaAttribute['type']> = {
  string: 'string',
  boolean: 'boolean',
  decimal: 'decimal',
  integer: 'integer',
  datetime: 'datetime',
  binary: 'binary',
  reference: 'reference',
  complex: 'complex',
};

function schemaAttribute(raw: unknown, prefix: string): SchemaAttribute | null {
  if (!raw || typeof raw !== 'object') return null;
  const attribute = raw as { name?: unknown; type?: unknown; multiValued?: unknown; required?: unknown; mutability?: unknown };
  if (typeof attribute.name !== 'string') return null;
  return {
    name: `${prefix}${attribute.name}`,
    type: SCIM_TYPES[String(attribute.type).toLowerCase()] ?? 'string',
    multiValued: attribute.multiValued === true,
    required: attribute.required === true,
    readOnly: attribute.mutability === 'readOnly',
  };
}
