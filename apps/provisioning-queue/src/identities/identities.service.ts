import { Injectable } from '@nestjs/common';
import { retryOnDeadlock, TenantDatabase, TenantTransaction } from '@provisio/persistence';
import { NotFoundError, Page, page, Principal, toStorable, toStorableTextOrNull, ValidationError, guardUniques } from '@provisio/platform';
import { MAX_IDENTITY_ATTRIBUTES_CHARS } from '@provisio/contracts';
import { AccountLinkDto, CreateIdentityDto, IdentityDto, ListIdentitiesQueryDto, UpdateIdentityDto } from './dtos/identity.dto';
import { IDENTITY_UNIQUES, IdentitiesRepository, IdentityRow, IdentityValues } from './identities.repository';
import { OperationPlanner } from '../operations/operation-planner.service';
import type { OperationRow } from '../operations/operations.repository';
import { IdentityChangesService } from './identity-changes.service';

/** `attributes` with `patch` merged in: a key whose value is null is removed. */
export function mergeAttributes(current: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const merged = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

export function valuesOf(row: IdentityRow): IdentityValues {
  const { username, email, display_name, status, attributes, source_user_id, source_version, source_event_time } = row;
  return { username, email, display_name, status, attributes, source_user_id, source_version, source_event_time };
}

export function sameValues(a: IdentityValues, b: IdentityValues): boolean {
  return (
    a.username === b.username &&
    a.email === b.email &&
    a.display_name === b.display_name &&
    a.status === b.status &&
    a.source_user_id === b.source_user_id &&
    a.source_version === b.source_version &&
    (a.source_event_time?.getTime() ?? null) === (b.source_event_time?.getTime() ?? null) &&
    JSON.stringify(a.attributes) === JSON.stringify(b.attributes)
  );
}

/** Text from a caller made storable (NUL and lone surrogates become U+FFFD: see libs/platform storable-text). */
function storableText(value: string): string {
  return toStorableTextOrNull(value)!;
}

/**
 * The identities API: CRUD with filters and pagination, and the accounts linked to an identity. Every
 * change goes through `IdentityChangesService.recorded` with the row before and after, in the write's
 * transaction; the provisioning operations it created are enqueued as soon as the write commits.
 */
@Injectable()
export class IdentitiesService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly identities: IdentitiesRepository,
    private readonly changes: IdentityChangesService,
    private readonly planner: OperationPlanner,
  ) {}

  /**
   * A write of the caller's tenant whose operations are enqueued once it has committed, rather than
   * when their announcement has made its trip through the outbox and Kafka (which, on a broker still
   * electing its partitions' leaders, took longer than 20 s). Should the enqueue fail, the announcement
   * and the sweep still enqueue them: the write has committed, and the caller is answered.
   */
  private async writing<T>(principal: Principal, work: (tx: TenantTransaction) => Promise<T>): Promise<T> {
    let created: OperationRow[] = [];
    const result = await this.db.write(principal, async (tx) => {
      this.planner.takeCreated(tx.manager);
      const out = await work(tx);
      created = this.planner.takeCreated(tx.manager);
      return out;
    });
    await this.planner.committed(created).catch(() => undefined);
    return result;
  }

  async list(principal: Principal, query: ListIdentitiesQueryDto): Promise<Page<IdentityDto>> {
    const { rows, total } = await this.identities.list(
      this.db.read(principal),
      { ...query, attributes: query.attributes && toStorable(query.attributes), updated_since: query.updated_since ? new Date(query.updated_since) : undefined },
      query,
    );
    return page(rows, total, query);
  }

  async get(principal: Principal, id: string): Promise<IdentityDto> {
    const row = await this.identities.find(this.db.read(principal), id);
    if (!row) throw new NotFoundError('identity', id);
    return row;
  }

  async create(principal: Principal, dto: CreateIdentityDto): Promise<IdentityDto> {
    const values: IdentityValues = {
      username: storableText(dto.username),
      email: toStorableTextOrNull(dto.email),
      display_name: toStorableTextOrNull(dto.display_name),
      status: dto.status ?? 'active',
      attributes: toStorable(dto.attributes ?? {}),
      source_user_id: toStorableTextOrNull(dto.source_user_id),
      source_version: null,
      source_event_time: null,
    };
    return this.writing(principal, async (tx) => {
      const row = await guardUniques(IDENTITY_UNIQUES, () => this.identities.insert(tx, values));
      await this.changes.recorded(tx, { before: null, after: row, cause: { kind: 'api', subject: principal.subject } });
      return row;
    });
  }

  async update(principal: Principal, id: string, dto: UpdateIdentityDto): Promise<IdentityDto> {
    const fields = ['username', 'email', 'display_name', 'status', 'attributes', 'source_user_id'] as const;
    if (fields.every((field) => dto[field] === undefined)) throw new ValidationError('the request changes nothing: give at least one field', undefined);
    // As for delete: a deadlock with the queue's workers over this identity is run again.
    return retryOnDeadlock(() =>
      this.writing(principal, async (tx) => {
        const before = await this.identities.lock(tx, id);
        if (!before) throw new NotFoundError('identity', id);
        const current = valuesOf(before);
        const next: IdentityValues = {
          ...current,
          username: dto.username !== undefined ? storableText(dto.username) : current.username,
          email: dto.email !== undefined ? toStorableTextOrNull(dto.email) : current.email,
          display_name: dto.display_name !== undefined ? toStorableTextOrNull(dto.display_name) : current.display_name,
          status: dto.status ?? current.status,
          attributes: dto.attributes !== undefined ? mergeAttributes(current.attributes, toStorable(dto.attributes)) : current.attributes,
          source_user_id: dto.source_user_id !== undefined ? toStorableTextOrNull(dto.source_user_id) : current.source_user_id,
        };
        if (JSON.stringify(next.attributes).length > MAX_IDENTITY_ATTRIBUTES_CHARS) {
          throw new ValidationError(`attributes would exceed ${MAX_IDENTITY_ATTRIBUTES_CHARS} characters of JSON after the merge`, 'attributes');
        }
        if (sameValues(current, next)) return before;
        const after = await guardUniques(IDENTITY_UNIQUES, () => this.identities.update(tx, id, next));
        await this.changes.recorded(tx, { before, after, cause: { kind: 'api', subject: principal.subject } });
        return after;
      }),
    );
  }

  /** Removes the identity and its account links (the accounts in the targets are not touched by this). */
  async delete(principal: Principal, id: string): Promise<void> {
    // The queue's workers lock this identity's operations, then the identity: a deadlock victim is run again.
    await retryOnDeadlock(() =>
      this.writing(principal, async (tx) => {
        const before = await this.identities.lock(tx, id);
        if (!before) throw new NotFoundError('identity', id);
        await this.identities.delete(tx, id);
        await this.changes.recorded(tx, { before, after: null, cause: { kind: 'api', subject: principal.subject } });
      }),
    );
  }

  async accounts(principal: Principal, id: string, query: { limit: number; offset: number }): Promise<Page<AccountLinkDto>> {
    const db = this.db.read(principal);
    if (!(await this.identities.find(db, id))) throw new NotFoundError('identity', id);
    const { rows, total } = await this.identities.accounts(db, id, query);
    return page(rows, total, query);
  }
}
