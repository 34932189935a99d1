import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { CloudEvent, USER_STATE_FIELDS, UserEventType, UserLifecycleEvent, UserStateEvent } from '@provisio/contracts';
import { ensureTenant, IdentityStatus, TenantTransaction } from '@provisio/persistence';
import { ValidationError } from '@provisio/platform';
import { IdentitiesRepository, IdentityRow, IdentityValues } from './identities.repository';
import { mergeAttributes, sameValues, valuesOf } from './identities.service';
import { IdentityChangesService } from './identity-changes.service';

export type UserEvent = CloudEvent<UserStateEvent | UserLifecycleEvent>;

/** What applying an event did (for tests and logs). */
export type UpstreamOutcome = 'created' | 'updated' | 'unchanged' | 'stale' | 'unknown-user' | 'tombstone';

const LIFECYCLE_STATUS: Record<string, IdentityStatus> = {
  [UserEventType.Deleted]: 'deleted',
  [UserEventType.Enabled]: 'active',
  [UserEventType.Disabled]: 'inactive',
};

/**
 * Whether `event` is older than what `identity` already reflects. The upstream's `version` decides when
 * both sides have one (an equal version is the same state: nothing to do); otherwise the CloudEvent
 * `time` (an equal time is applied: two changes in the same instant keep their partition order). An
 * event with neither is applied in the order it arrives.
 */
export function isStale(identity: Pick<IdentityRow, 'source_version' | 'source_event_time'>, event: { time?: string; version?: number }): boolean {
  if (event.version !== undefined && identity.source_version !== null) return event.version <= identity.source_version;
  if (event.time !== undefined && identity.source_event_time !== null) return new Date(event.time).getTime() < identity.source_event_time.getTime();
  return false;
}

/** The attributes an event states: `data.attributes` and every top-level field without a meaning of its own. */
function statedAttributes(data: UserStateEvent): Record<string, unknown> {
  const extra = Object.fromEntries(Object.entries(data).filter(([key]) => !(USER_STATE_FIELDS as readonly string[]).includes(key)));
  return { ...extra, ...(data.attributes ?? {}) };
}

/**
 * Keeps the identity store from the upstream's `user.*` events; the upstream is the source of truth.
 *
 *  - `user.created` / `user.updated`: the identity of `data.user_id` (`source_user_id`) takes the fields
 *    the event states, attributes merged key by key (null removes); an unknown user is created (username
 *    defaults to `user_id`). An identity created through the API with the same username and no
 *    `source_user_id` is adopted; one that belongs to another upstream user makes the event permanent
 *    failure (dead-lettered). `user.created` of a deleted identity revives it (`active` unless stated).
 *  - `user.deleted`: status `deleted` (the row and its account links stay: the provisioning queue turns
 *    this into delete operations, the reconciler still knows the accounts); for an unknown user, a
 *    `deleted` tombstone keeps the deletion's order. `user.enabled`: `active`; `user.disabled`:
 *    `inactive`; for an unknown user these change nothing.
 *  - An event older than the identity's last applied one (`isStale`) changes nothing.
 */
const MAX_KNOWN_TENANTS = 10_000;

/**
 * What `prefetch` read for one transaction's events of one tenant: the identity (or null: none) of each
 * key. An entry is used once, by the one event that names its key, then it is gone.
 */
interface Prefetched {
  bySourceUser: Map<string, IdentityRow | null>;
  byUsername: Map<string, IdentityRow | null>;
}

const count = (counts: Map<string, number>, key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);

@Injectable()
export class UpstreamUsersService {
  /** Tenants seen to exist (committed rows, never deleted): their first identity needs no ensureTenant. */
  private readonly knownTenants = new Set<string>();
  /** By transaction (its manager), then tenant. */
  private readonly prefetched = new WeakMap<EntityManager, Map<string, Prefetched>>();

  constructor(
    private readonly identities: IdentitiesRepository,
    private readonly changes: IdentityChangesService,
  ) {}

  /**
   * Reads, in one statement per tenant, the identities the events of one transaction will look up (by
   * upstream user, then by username), locked as those look-ups would lock them; `apply` then takes them
   * from here rather than asking PostgreSQL once or twice per event. Only keys that exactly one of the
   * events can look up or write are kept (a user_id or username two events name, a row two keys found):
   * a write of an earlier event can never leave a later one reading a stale entry.
   */
  async prefetch(events: UserEvent[], tx: TenantTransaction): Promise<void> {
    const sourceUsers = new Map<string, number>();
    const usernames = new Map<string, number>();
    for (const { data } of events) {
      count(sourceUsers, data.user_id);
      count(usernames, data.user_id); // the default username, and a tombstone's
      const stated = (data as UserStateEvent).username;
      if (typeof stated === 'string' && stated !== data.user_id) count(usernames, stated);
    }
    const once = (counts: Map<string, number>) => [...counts].filter(([, n]) => n === 1).map(([key]) => key);
    const entry: Prefetched = { bySourceUser: new Map(once(sourceUsers).map((k) => [k, null])), byUsername: new Map(once(usernames).map((k) => [k, null])) };
    const rows = await this.identities.lockMany(tx, [...entry.bySourceUser.keys()], [...entry.byUsername.keys()]);
    const found = new Map<string, number>();
    for (const row of rows) count(found, row.id);
    for (const row of rows) {
      if (found.get(row.id)! > 1) {
        if (row.source_user_id !== null) entry.bySourceUser.delete(row.source_user_id);
        entry.byUsername.delete(row.username);
      } else if (row.source_user_id !== null && entry.bySourceUser.has(row.source_user_id)) entry.bySourceUser.set(row.source_user_id, row);
      else if (entry.byUsername.has(row.username)) entry.byUsername.set(row.username, row);
    }
    let tenants = this.prefetched.get(tx.manager);
    if (!tenants) this.prefetched.set(tx.manager, (tenants = new Map()));
    tenants.set(tx.tenantId, entry);
  }

  /** The prefetched identity of `key` (null: none), used up; undefined when it was not prefetched. */
  private takePrefetched(tx: TenantTransaction, kind: keyof Prefetched, key: string): IdentityRow | null | undefined {
    const entries = this.prefetched.get(tx.manager)?.get(tx.tenantId)?.[kind];
    if (!entries?.has(key)) return undefined;
    const row = entries.get(key)!;
    entries.delete(key);
    return row;
  }

  private async lockBySourceUser(tx: TenantTransaction, sourceUserId: string): Promise<IdentityRow | undefined> {
    const prefetched = this.takePrefetched(tx, 'bySourceUser', sourceUserId);
    return prefetched === undefined ? this.identities.lockBySourceUser(tx, sourceUserId) : (prefetched ?? undefined);
  }

  private async lockByUsername(tx: TenantTransaction, username: string): Promise<IdentityRow | undefined> {
    const prefetched = this.takePrefetched(tx, 'byUsername', username);
    return prefetched === undefined ? this.identities.lockByUsername(tx, username) : (prefetched ?? undefined);
  }

  async apply(event: UserEvent, tx: TenantTransaction): Promise<UpstreamOutcome> {
    const data = event.data;
    const existing = await this.lockBySourceUser(tx, data.user_id);
    if (existing && isStale(existing, { time: event.time, version: data.version })) return 'stale';
    const lifecycle = LIFECYCLE_STATUS[event.type];
    const watermark = {
      source_version: data.version ?? existing?.source_version ?? null,
      source_event_time: event.time ? new Date(event.time) : existing?.source_event_time ?? null,
    };
    if (lifecycle !== undefined && !existing) {
      return event.type === UserEventType.Deleted ? this.tombstone(tx, event, watermark) : 'unknown-user';
    }
    const cause = { kind: 'event' as const, event_id: event.id, source: event.source, type: event.type };

    if (lifecycle !== undefined) return this.write(tx, existing!, { ...valuesOf(existing!), ...watermark, status: lifecycle }, cause);

    const state = data as UserStateEvent;
    if (existing) {
      const revived = event.type === UserEventType.Created && existing.status === 'deleted';
      return this.write(tx, existing, { ...this.stateValues(state, existing, revived ? 'active' : existing.status), ...watermark }, cause);
    }

    const username = state.username ?? state.user_id;
    const namesake = await this.lockByUsername(tx, username);
    if (namesake) {
      if (namesake.source_user_id !== null) {
        throw new ValidationError(`username ${username} belongs to the identity of upstream user ${namesake.source_user_id}`, 'data.username');
      }
      // Created through the API before the upstream knew it: this is that user.
      return this.write(tx, namesake, { ...this.stateValues(state, namesake, namesake.status), source_user_id: state.user_id, ...watermark }, cause);
    }
    await this.ensureTenant(tx, event.tenantid);
    const created = await this.identities.insert(tx, {
      ...this.stateValues(state, null, 'active'),
      source_user_id: state.user_id,
      ...watermark,
    });
    await this.changes.recorded(tx, { before: null, after: created, cause });
    return 'created';
  }

  /**
   * `user.deleted` of a user never seen: a `deleted` identity that only keeps the deletion's version and
   * time, so an older `user.created` arriving after it (a replay, another partition) does not bring the
   * user back. Not an identity change (nothing was provisioned for it). Skipped when `user_id` is taken
   * as a username.
   */
  private async tombstone(tx: TenantTransaction, event: UserEvent, watermark: Pick<IdentityValues, 'source_version' | 'source_event_time'>): Promise<UpstreamOutcome> {
    if (watermark.source_version === null && watermark.source_event_time === null) return 'unknown-user'; // nothing to order by
    const userId = event.data.user_id;
    if (await this.lockByUsername(tx, userId)) return 'unknown-user';
    await this.ensureTenant(tx, event.tenantid);
    await this.identities.insert(tx, { username: userId, email: null, display_name: null, status: 'deleted', attributes: {}, source_user_id: userId, ...watermark });
    return 'tombstone';
  }

  /**
   * The tenant row the identity refers to. Only a tenant found to exist is remembered: one created in
   * this transaction exists only if it commits.
   */
  private async ensureTenant(tx: TenantTransaction, tenantId: string): Promise<void> {
    if (this.knownTenants.has(tenantId)) return;
    const found: unknown[] = await tx.manager.query('SELECT 1 FROM tenants WHERE id = $1', [tenantId]);
    if (found.length === 0) {
      await ensureTenant(tx.manager, tenantId);
      return;
    }
    if (this.knownTenants.size >= MAX_KNOWN_TENANTS) this.knownTenants.clear();
    this.knownTenants.add(tenantId);
  }

  private stateValues(state: UserStateEvent, current: IdentityRow | null, status: IdentityStatus): IdentityValues {
    return {
      username: state.username ?? current?.username ?? state.user_id,
      email: state.email !== undefined ? state.email : current?.email ?? null,
      display_name: state.display_name !== undefined ? state.display_name : current?.display_name ?? null,
      status: state.status ?? status,
      attributes: mergeAttributes(current?.attributes ?? {}, statedAttributes(state)),
      source_user_id: current?.source_user_id ?? state.user_id,
      source_version: current?.source_version ?? null,
      source_event_time: current?.source_event_time ?? null,
    };
  }

  /** Writes `next` when it differs; the change is recorded only when more than the watermark moved. */
  private async write(tx: TenantTransaction, before: IdentityRow, next: IdentityValues, cause: { kind: 'event'; event_id: string; source: string; type: string }): Promise<UpstreamOutcome> {
    const current = valuesOf(before);
    if (sameValues(current, next)) return 'unchanged';
    const after = await this.identities.update(tx, before.id, next);
    const watermarkOnly = sameValues({ ...current, source_version: null, source_event_time: null }, { ...next, source_version: null, source_event_time: null });
    if (watermarkOnly) return 'unchanged';
    await this.changes.recorded(tx, { before, after, cause });
    return 'updated';
  }
}
