/**
 * The connector contract: one set of jest cases every connector passes against its real target server
 * (SCIM fixture, LDAP directory, SQL table). A connector's `*.int-spec.ts` calls
 * `describeConnectorContract(name, makeFixture)` with a fixture adapter that says how to reach the target,
 * what an account looks like there, how to seed many accounts fast and how to make the target fail in
 * each way. What the contract checks is behaviour a caller (the provisioning queue, the reconciler) relies
 * on, never a protocol detail.
 *
 * Faults a target cannot be made to produce are left out of the adapter; their cases are registered as
 * skipped with a name that says so, so the gap shows in every run.
 */
import { Attributes, Connector, ConnectorLimits, TargetObject } from '../connector';
import { ConnectorError, ConnectorErrorCode, isConnectorError } from '../connector-errors';

/** A transient fault the fixture can switch on at its target; the returned function switches it off. */
export type ContractFault =
  /** Every answer is delayed by `durationMs` (the contract connects with a shorter timeout). */
  | { kind: 'latency'; durationMs: number }
  /** Every request is refused as rate limited, saying to retry after `retryAfterSeconds`. */
  | { kind: 'rate_limited'; retryAfterSeconds: number }
  /** The target answers that it is unavailable (HTTP 503, LDAP unavailable). */
  | { kind: 'unavailable' }
  /** The target fails with an internal error (HTTP 500, LDAP other). */
  | { kind: 'server_error' }
  /** A search page comes back cut short (an unparseable body). */
  | { kind: 'truncated_page' };

export type ContractFaultKind = ContractFault['kind'];

export interface ContractFixture {
  /** A connector to the target; `limits` overrides the fixture's limits (the timeout case passes a short timeoutMs). */
  connect(limits?: Partial<ConnectorLimits>): Promise<Connector>;
  /** A connector configured like the others but aimed at an address where nothing listens. */
  connectUnreachable(): Promise<Connector>;
  /** The attribute that names an account uniquely at the target and that search filters on: `userName`, `uid`, a key column. */
  keyAttribute: string;
  /** A new account's attributes; `key` becomes its keyAttribute value (it may hold any character). */
  account(key: string): Attributes;
  /** A single-valued string attribute an update may set to any value and remove: `displayName`, `description`, a nullable column. */
  mutableAttribute: string;
  /** Attributes the target refuses (unknown attribute, wrong syntax): create must fail with InvalidAttribute. */
  invalidAccount(key: string): Attributes;
  /** A uid that no object has (well-formed for the target). */
  missingUid(): string;
  /**
   * Creates `count` accounts whose keys are `${prefix}${i}` for i in [0, count), the fastest way the target
   * allows (a bulk seed endpoint, an LDIF import, COPY). Not through the connector under test.
   */
  seedAccounts(prefix: string, count: number): Promise<void>;
  /** Switches a fault on; resolves to the function that switches it off. Omit a kind the target cannot produce. */
  faults: Partial<Record<ContractFaultKind, (fault: ContractFault) => Promise<() => Promise<void>>>>;
  /**
   * The smallest gap between two changes that gives them distinct change stamps (LDAP modifyTimestamp has
   * one-second resolution, a SCIM watermark taken from the Date header too); the delta case waits this
   * long around its watermark. Default 20 ms.
   */
  changeResolutionMs?: number;
  /** Stops whatever the fixture started (its servers, connections). */
  dispose(): Promise<void>;
}

export interface ContractOptions {
  /** Accounts the paging case walks through (default 10,000). */
  pagingAccounts?: number;
  /**
   * The faults the fixture's `faults` injects (known when jest collects the cases, before the fixture
   * exists). The cases of the others are registered as skipped, named "(not injectable at this target)".
   */
  faults: readonly ContractFaultKind[];
  /** The connector has `segments` (a search cut into parts read at once); without it those cases are registered as skipped. */
  segments?: boolean;
}

/** Hostile values a connector must pass through as data: filter syntax, DN syntax, quotes, NUL, non-ASCII. */
export const HOSTILE_VALUES: readonly { name: string; value: string }[] = [
  { name: 'LDAP filter injection', value: '*)(uid=*' },
  { name: 'DN injection', value: ',cn=admin' },
  { name: 'double quote', value: 'say "hi"' },
  { name: 'single quote', value: "o'brien" },
  { name: 'backslash', value: 'back\\slash\\' },
  { name: 'SCIM filter injection', value: 'x" or userName pr or userName eq "' },
  { name: 'NUL', value: 'nul\u0000byte' },
  { name: 'non-ASCII', value: 'Zoë 山田' },
];

const FAULT_KINDS: readonly ContractFaultKind[] = ['latency', 'rate_limited', 'unavailable', 'server_error', 'truncated_page'];

/** Runs `fn` and returns the ConnectorError it must reject with (fails the test otherwise). */
export async function expectConnectorError(fn: () => Promise<unknown>, code?: ConnectorErrorCode): Promise<ConnectorError> {
  let outcome: unknown;
  try {
    outcome = await fn();
  } catch (error) {
    if (!isConnectorError(error)) throw new Error(`expected a ConnectorError${code ? ` ${code}` : ''}, got ${String((error as Error)?.stack ?? error)}`);
    if (code && error.code !== code) throw new Error(`expected ConnectorError ${code}, got ${error.code}: ${error.message}`);
    return error;
  }
  throw new Error(`expected a ConnectorError${code ? ` ${code}` : ''}, but the call succeeded with ${JSON.stringify(outcome)?.slice(0, 200)}`);
}

/** Every object of a search, all pages (small searches only). */
export async function collectSearch(pages: AsyncIterable<{ objects: TargetObject[] }>): Promise<TargetObject[]> {
  const objects: TargetObject[] = [];
  for await (const page of pages) objects.push(...page.objects);
  return objects;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Registers the contract's cases in a `describe` block named after the connector. */
export function describeConnectorContract(name: string, makeFixture: () => Promise<ContractFixture>, options: ContractOptions): void {
  const pagingAccounts = options.pagingAccounts ?? 10_000;

  describe(`${name} connector contract`, () => {
    let fixture: ContractFixture;
    let connector: Connector;
    // Keys unique to this run, so a target shared with other runs (the stack's) never confuses cases.
    const run = `c${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    let serial = 0;
    const key = (label: string) => `${run}-${label}-${serial++}`;
    const keyOf = (object: TargetObject) => object.attributes[fixture.keyAttribute];
    const findByKey = async (value: string, c: Connector = connector) =>
      collectSearch(c.search('account', { filter: { op: 'eq', attribute: fixture.keyAttribute, value } }));

    beforeAll(async () => {
      fixture = await makeFixture();
      connector = await fixture.connect();
    });

    afterAll(async () => {
      await connector?.close();
      await fixture?.dispose();
    });

    describe('CRUD', () => {
      it('creates an account, gets it by uid and finds it by its key', async () => {
        const k = key('create');
        const created = await connector.create('account', { ...fixture.account(k), [fixture.mutableAttribute]: 'first' });
        expect(created.uid).toEqual(expect.any(String));
        expect(keyOf(created)).toBe(k);

        const fetched = await connector.get('account', created.uid);
        expect(fetched?.uid).toBe(created.uid);
        expect(keyOf(fetched!)).toBe(k);
        expect(fetched!.attributes[fixture.mutableAttribute]).toBe('first');

        const found = await findByKey(k);
        expect(found.map((o) => o.uid)).toEqual([created.uid]);
      });

      it('updates only the attributes of the delta, and removes those it lists', async () => {
        const k = key('update');
        const created = await connector.create('account', { ...fixture.account(k), [fixture.mutableAttribute]: 'before' });
        const updated = await connector.update('account', created.uid, { replace: { [fixture.mutableAttribute]: 'after' }, remove: [] });
        expect(updated.attributes[fixture.mutableAttribute]).toBe('after');
        expect(keyOf(updated)).toBe(k);
        expect((await connector.get('account', created.uid))!.attributes[fixture.mutableAttribute]).toBe('after');

        await connector.update('account', created.uid, { replace: {}, remove: [fixture.mutableAttribute] });
        const removed = await connector.get('account', created.uid);
        expect(removed!.attributes[fixture.mutableAttribute] ?? null).toBeNull();
        expect(keyOf(removed!)).toBe(k);
      });

      it('deletes an account: get returns null and a second delete is NotFound', async () => {
        const created = await connector.create('account', fixture.account(key('delete')));
        await connector.delete('account', created.uid);
        expect(await connector.get('account', created.uid)).toBeNull();
        await expectConnectorError(() => connector.delete('account', created.uid), ConnectorErrorCode.NotFound);
      });

      it('writes a batch in order, one failed write not failing the others', async () => {
        const existing = key('batch-dup');
        await connector.create('account', fixture.account(existing));
        const keys = [key('batch'), existing, key('batch')];
        const outcomes = await connector.writeBatch(keys.map((k) => ({ kind: 'create' as const, objectClass: 'account' as const, attributes: fixture.account(k) })));
        expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
        const failed = outcomes[1];
        expect(!failed.ok && failed.error.code).toBe(ConnectorErrorCode.AlreadyExists);
        for (const k of [keys[0], keys[2]]) expect(await findByKey(k)).toHaveLength(1);

        const first = outcomes[0].ok ? outcomes[0].object : undefined;
        expect(first?.uid).toEqual(expect.any(String));
        const second = await connector.writeBatch([
          { kind: 'update', objectClass: 'account', uid: first!.uid, delta: { replace: { [fixture.mutableAttribute]: 'batched' }, remove: [] } },
          { kind: 'delete', objectClass: 'account', uid: fixture.missingUid() },
        ]);
        expect(second[0].ok).toBe(true);
        expect(!second[1].ok && second[1].error.code).toBe(ConnectorErrorCode.NotFound);
        expect((await connector.get('account', first!.uid))!.attributes[fixture.mutableAttribute]).toBe('batched');
      });
    });

    describe('enable and disable', () => {
      it('disables and re-enables an account, and get reports it', async () => {
        const created = await connector.create('account', fixture.account(key('enable')));
        expect(created.enabled).not.toBe(false);
        await connector.disable('account', created.uid);
        expect((await connector.get('account', created.uid))!.enabled).toBe(false);
        await connector.enable('account', created.uid);
        expect((await connector.get('account', created.uid))!.enabled).toBe(true);
      });

      it('enabling or disabling a missing account is NotFound', async () => {
        await expectConnectorError(() => connector.disable('account', fixture.missingUid()), ConnectorErrorCode.NotFound);
        await expectConnectorError(() => connector.enable('account', fixture.missingUid()), ConnectorErrorCode.NotFound);
      });
    });

    describe(`paging through ${pagingAccounts.toLocaleString('en')} accounts`, () => {
      let prefix: string;
      beforeAll(async () => {
        prefix = `${run}-page-`;
        await fixture.seedAccounts(prefix, pagingAccounts);
      });

      it('returns every account exactly once, page by page, with a cursor on each page but the last', async () => {
        const seen = new Set<string>();
        const uids = new Set<string>();
        let pages = 0;
        let lastCursor: string | null | undefined;
        for await (const page of connector.search('account', { pageSize: 500 })) {
          pages++;
          expect(page.objects.length).toBeLessThanOrEqual(500);
          for (const object of page.objects) {
            expect(uids.has(object.uid)).toBe(false);
            uids.add(object.uid);
            const k = keyOf(object);
            if (typeof k === 'string' && k.startsWith(prefix)) seen.add(k);
          }
          if (lastCursor === null) throw new Error('a page came after the page whose nextCursor was null');
          lastCursor = page.nextCursor;
        }
        expect(lastCursor).toBeNull();
        expect(seen.size).toBe(pagingAccounts);
        expect(pages).toBeGreaterThanOrEqual(Math.ceil(pagingAccounts / 500));
      });

      it("resumes from a page's cursor with the pages after it", async () => {
        const first: TargetObject[][] = [];
        let cursor: string | null = null;
        for await (const page of connector.search('account', { pageSize: 200 })) {
          first.push(page.objects);
          if (first.length === 3) {
            cursor = page.nextCursor;
            break;
          }
        }
        expect(cursor).toEqual(expect.any(String));
        const resumed: TargetObject[][] = [];
        for await (const page of connector.search('account', { pageSize: 200, cursor: cursor! })) {
          resumed.push(page.objects);
          if (resumed.length === 2) break;
        }
        const before = new Set(first.flat().map((o) => o.uid));
        const after = resumed.flat();
        expect(after.length).toBe(400);
        expect(after.filter((o) => before.has(o.uid))).toEqual([]);

        // The resumed pages are the original search's 4th and 5th.
        const original: string[] = [];
        let index = 0;
        for await (const page of connector.search('account', { pageSize: 200 })) {
          if (index >= 3) original.push(...page.objects.map((o) => o.uid));
          if (++index === 5) break;
        }
        expect(after.map((o) => o.uid)).toEqual(original);
      });

      const segmentCase = options.segments ? it : (title: string) => it.skip(`${title} (the connector has no segments)`, () => undefined);

      segmentCase('cuts the search into segments that together hold every account exactly once', async () => {
        const all = new Set((await collectSearch(connector.search('account', { pageSize: 1000 }))).map((o) => o.uid));
        const segments = await connector.segments!('account', 4, { pageSize: 500 });
        expect(segments.length).toBeGreaterThanOrEqual(2);
        expect(segments.length).toBeLessThanOrEqual(4);
        const seen = new Map<string, number>();
        for (const [index, segment] of segments.entries()) {
          for await (const page of connector.search('account', { pageSize: 300, segment })) {
            expect(page.objects.length).toBeLessThanOrEqual(300);
            for (const object of page.objects) {
              expect(seen.has(object.uid)).toBe(false);
              seen.set(object.uid, index);
            }
          }
        }
        expect(seen.size).toBe(all.size);
        expect([...all].filter((uid) => !seen.has(uid))).toEqual([]);
        const perSegment = segments.map((_, i) => [...seen.values()].filter((s) => s === i).length);
        expect(Math.min(...perSegment)).toBeGreaterThan(0);
      });

      segmentCase("resumes a segment from a page's cursor with the rest of that segment only", async () => {
        const [segment] = await connector.segments!('account', 3, { pageSize: 200 });
        const whole = (await collectSearch(connector.search('account', { pageSize: 200, segment }))).map((o) => o.uid);
        let cursor: string | null = null;
        for await (const page of connector.search('account', { pageSize: 200, segment })) {
          cursor = page.nextCursor;
          break;
        }
        expect(cursor).toEqual(expect.any(String));
        const rest = (await collectSearch(connector.search('account', { pageSize: 200, segment, cursor: cursor! }))).map((o) => o.uid);
        expect(rest).toEqual(whole.slice(200));
      });

      segmentCase('a segment that is not one of its own is BadRequest', async () => {
        await expectConnectorError(() => collectSearch(connector.search('account', { segment: '%%not a segment%%' })), ConnectorErrorCode.BadRequest);
      });

      it('filters by key: one seeded account out of all of them', async () => {
        const wanted = `${prefix}${pagingAccounts - 1}`;
        const found = await findByKey(wanted);
        expect(found.map(keyOf)).toEqual([wanted]);
      });
    });

    describe('deltas', () => {
      it('returns what changed since a watermark, and not what did not', async () => {
        const resolution = fixture.changeResolutionMs ?? 20;
        const untouched = await connector.create('account', fixture.account(key('delta-untouched')));
        const updatedLater = await connector.create('account', fixture.account(key('delta-updated')));
        // Earlier writes (the 10,000 seeded) fall before the watermark, whatever the target's clock resolution.
        await sleep(resolution + 10);
        let watermark: string | undefined;
        for await (const page of connector.searchChangedSince('account', null, { pageSize: 1000 })) watermark = page.watermark ?? watermark;
        expect(watermark).toEqual(expect.any(String));

        await sleep(resolution * 2 + 10);
        const createdLater = await connector.create('account', fixture.account(key('delta-created')));
        await connector.update('account', updatedLater.uid, { replace: { [fixture.mutableAttribute]: 'changed' }, remove: [] });

        const changed = await collectSearch(connector.searchChangedSince('account', watermark!));
        const changedUids = changed.map((o) => o.uid);
        expect(changedUids).toEqual(expect.arrayContaining([createdLater.uid, updatedLater.uid]));
        // The seeded accounts were not touched: a delta is not a full read.
        expect(changed.filter((o) => String(keyOf(o)).startsWith(`${run}-page-`))).toEqual([]);
        expect(changed.length).toBeLessThan(100);

        let next: string | undefined;
        for await (const page of connector.searchChangedSince('account', watermark!)) next = page.watermark ?? next;
        expect(next).toEqual(expect.any(String));
        await sleep(resolution * 2 + 10);
        await connector.update('account', untouched.uid, { replace: { [fixture.mutableAttribute]: 'touched' }, remove: [] });
        const again = (await collectSearch(connector.searchChangedSince('account', next!))).map((o) => o.uid);
        expect(again).toContain(untouched.uid);
        expect(again.length).toBeLessThan(100);
      });
    });

    describe('errors', () => {
      it('connection refused is transient ConnectionRefused', async () => {
        const unreachable = await fixture.connectUnreachable();
        try {
          const error = await expectConnectorError(() => unreachable.get('account', fixture.missingUid()), ConnectorErrorCode.ConnectionRefused);
          expect(error.transient).toBe(true);
        } finally {
          await unreachable.close();
        }
      });

      it('a missing uid: get is null, update and delete are permanent NotFound', async () => {
        expect(await connector.get('account', fixture.missingUid())).toBeNull();
        const update = await expectConnectorError(
          () => connector.update('account', fixture.missingUid(), { replace: { [fixture.mutableAttribute]: 'x' }, remove: [] }),
          ConnectorErrorCode.NotFound,
        );
        expect(update.transient).toBe(false);
        await expectConnectorError(() => connector.delete('account', fixture.missingUid()), ConnectorErrorCode.NotFound);
      });

      it('creating an account that exists is permanent AlreadyExists', async () => {
        const k = key('exists');
        await connector.create('account', fixture.account(k));
        const error = await expectConnectorError(() => connector.create('account', fixture.account(k)), ConnectorErrorCode.AlreadyExists);
        expect(error.transient).toBe(false);
        expect(await findByKey(k)).toHaveLength(1);
      });

      it('an attribute the target refuses is permanent InvalidAttribute, and nothing is written', async () => {
        const k = key('invalid');
        const error = await expectConnectorError(() => connector.create('account', fixture.invalidAccount(k)), ConnectorErrorCode.InvalidAttribute);
        expect(error.transient).toBe(false);
        expect(await findByKey(k)).toHaveLength(0);
      });

      const faultCase = (kind: ContractFaultKind, title: string, body: (inject: () => Promise<() => Promise<void>>) => Promise<void>) => {
        if (!options.faults.includes(kind)) {
          it.skip(`${title} (not injectable at this target)`, () => undefined);
          return;
        }
        it(title, async () => {
          const injector = fixture.faults[kind];
          if (!injector) throw new Error(`the fixture lists the fault '${kind}' in options.faults but its faults has no injector for it`);
          await body(() => injector(faultFor(kind)));
        });
      };

      faultCase('latency', 'no answer within the timeout is transient Timeout, on time', async (inject) => {
        const impatient = await fixture.connect({ timeoutMs: 300 });
        const off = await inject();
        try {
          const startedAt = Date.now();
          const error = await expectConnectorError(() => impatient.get('account', fixture.missingUid()), ConnectorErrorCode.Timeout);
          expect(error.transient).toBe(true);
          expect(Date.now() - startedAt).toBeLessThan(1500);
        } finally {
          await off();
          await impatient.close();
        }
      });

      faultCase('rate_limited', 'rate limited is transient RateLimited with Retry-After, and no request goes out before it', async (inject) => {
        const fresh = await fixture.connect();
        const created = await fresh.create('account', fixture.account(key('limited')));
        const off = await inject();
        let failedAt: number;
        try {
          const error = await expectConnectorError(() => fresh.get('account', created.uid), ConnectorErrorCode.RateLimited);
          failedAt = Date.now();
          expect(error.transient).toBe(true);
          expect(error.retryAfterMs).toBe(2000);
        } finally {
          await off();
        }
        try {
          // The target answers again at once, but the connector must still wait out the 2 s it was told.
          const fetched = await fresh.get('account', created.uid);
          expect(fetched?.uid).toBe(created.uid);
          expect(Date.now() - failedAt!).toBeGreaterThanOrEqual(1900);
        } finally {
          await fresh.close();
        }
      });

      faultCase('unavailable', 'unavailable is transient ServiceUnavailable', async (inject) => {
        const off = await inject();
        try {
          const error = await expectConnectorError(() => connector.get('account', fixture.missingUid()), ConnectorErrorCode.ServiceUnavailable);
          expect(error.transient).toBe(true);
        } finally {
          await off();
        }
      });

      faultCase('server_error', 'an internal error of the target is transient ServerError', async (inject) => {
        const off = await inject();
        try {
          const error = await expectConnectorError(() => connector.create('account', fixture.account(key('5xx'))), ConnectorErrorCode.ServerError);
          expect(error.transient).toBe(true);
        } finally {
          await off();
        }
      });

      faultCase('truncated_page', 'a page cut short is transient InvalidResponse, not a short page', async (inject) => {
        const off = await inject();
        try {
          const error = await expectConnectorError(() => collectSearch(connector.search('account', { pageSize: 50 })), ConnectorErrorCode.InvalidResponse);
          expect(error.transient).toBe(true);
        } finally {
          await off();
        }
      });

      it('the fixture injects exactly the faults it declares', () => {
        // Guards against an adapter whose fault keys are misspelt or unlisted (their cases would never run).
        for (const kind of Object.keys(fixture.faults)) expect(FAULT_KINDS).toContain(kind);
        expect(Object.keys(fixture.faults).sort()).toEqual([...options.faults].sort());
      });
    });

    describe('hostile attribute values', () => {
      it.each(HOSTILE_VALUES.map((h) => [h.name, h.value]))('%s: stored as data or refused as InvalidAttribute, never matched as syntax', async (_label, value) => {
        const k = `${key('hostile')}${value}`;
        let created: TargetObject;
        try {
          created = await connector.create('account', { ...fixture.account(k), [fixture.mutableAttribute]: value });
        } catch (error) {
          // Some targets cannot store a NUL (PostgreSQL text, LDAP DirectoryString): a clean refusal is right.
          if (isConnectorError(error) && error.code === ConnectorErrorCode.InvalidAttribute && value.includes('\u0000')) return;
          throw error;
        }
        const fetched = await connector.get('account', created.uid);
        expect(keyOf(fetched!)).toBe(k);
        expect(fetched!.attributes[fixture.mutableAttribute]).toBe(value);

        // An eq filter on the hostile value matches that account only (the value is not filter syntax).
        const found = await findByKey(k);
        expect(found.map((o) => o.uid)).toEqual([created.uid]);
        const byValueOnly = await collectSearch(connector.search('account', { filter: { op: 'eq', attribute: fixture.keyAttribute, value } }));
        expect(byValueOnly).toEqual([]);

        const updated = await connector.update('account', created.uid, { replace: { [fixture.mutableAttribute]: `${value}2` }, remove: [] });
        expect(updated.attributes[fixture.mutableAttribute]).toBe(`${value}2`);
        await connector.delete('account', created.uid);
        expect(await connector.get('account', created.uid)).toBeNull();
      });
    });
  });
}

function faultFor(kind: ContractFaultKind): ContractFault {
  switch (kind) {
    case 'latency':
      return { kind, durationMs: 1000 };
    case 'rate_limited':
      return { kind, retryAfterSeconds: 2 };
    case 'unavailable':
    case 'server_error':
    case 'truncated_page':
      return { kind };
    default: {
      const unreachable: never = kind;
      throw new Error(`unknown fault ${String(unreachable)}`);
    }
  }
}
