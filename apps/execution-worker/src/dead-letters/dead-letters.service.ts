import { Injectable } from '@nestjs/common';
import { TenantDatabase, TenantTransaction } from '@provisio/persistence';
import { NotFoundError, Page, page, toStorableJson } from '@provisio/platform';
import { EVENT_ATTEMPTS, ExecutionQueue } from '../executions/execution-queue.service';
import { ExecutionsRepository } from '../executions/executions.repository';

export interface DeadLetter {
  id: string;
  script_id: string;
  tenant_id: string;
  execution_id: string | null;
  event_type: string;
  event_data: Record<string, unknown>;
  error: string;
  retry_count: number;
  last_retry_at: Date | null;
  created_at: Date;
}

const COLUMNS = 'id, script_id, tenant_id, execution_id, event_type, event_data, error, retry_count, last_retry_at, created_at';

/** What bulk replay and discard match (all given filters at once). */
export interface DeadLetterFilters {
  script_id?: string;
  event_type?: string;
  /** created_at ≥ from */
  from?: string;
  /** created_at < to */
  to?: string;
  /** The error contains this text (case-insensitive). */
  error_contains?: string;
}

/** Dead letters one bulk request handles at most; the answer says how many more match. */
export const MAX_BULK_DEAD_LETTERS = 1000;

/** `d.`-qualified conditions and parameters of the filters, after `$1` (the tenant). */
function whereOf(filters: DeadLetterFilters): { where: string; params: unknown[] } {
  const where = ['d.tenant_id = $1'];
  const params: unknown[] = [];
  if (filters.script_id) where.push(`d.script_id = $${params.push(filters.script_id) + 1}::uuid`);
  if (filters.event_type) where.push(`d.event_type = $${params.push(filters.event_type) + 1}`);
  if (filters.from) where.push(`d.created_at >= $${params.push(filters.from) + 1}::timestamptz`);
  if (filters.to) where.push(`d.created_at < $${params.push(filters.to) + 1}::timestamptz`);
  // ILIKE with the text's wildcards escaped: the filter is a substring, never a pattern.
  if (filters.error_contains) where.push(`d.error ILIKE '%' || $${params.push(filters.error_contains.replace(/[\\%_]/g, (c) => `\\${c}`)) + 1} || '%'`);
  return { where: where.join(' AND '), params };
}

/**
 * Event-triggered runs that exhausted their attempts: list, retry (a new run of the same event), discard.
 * Every statement is the caller's tenant's, through the shared tenant layer (`$1` is the tenant).
 */
@Injectable()
export class DeadLettersService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly executions: ExecutionsRepository,
    private readonly queue: ExecutionQueue,
  ) {}

  async list(tenantId: string, query: DeadLetterFilters & { limit: number; offset: number }): Promise<Page<DeadLetter>> {
    const { where, params } = whereOf(query);
    const tenant = this.db.read(tenantId);
    const [{ total }] = await tenant.query<{ total: number }>(`SELECT count(*)::int AS total FROM script_event_dead_letters d WHERE ${where}`, params);
    const items = await tenant.query<DeadLetter>(
      `SELECT ${COLUMNS} FROM script_event_dead_letters d WHERE ${where} ORDER BY d.created_at DESC, d.id LIMIT $${params.length + 2} OFFSET $${params.length + 3}`,
      [...params, query.limit, query.offset],
    );
    return page(items, total, query);
  }

  async get(tenantId: string, id: string): Promise<DeadLetter> {
    const letter = await this.db.read(tenantId).one<DeadLetter>(`SELECT ${COLUMNS} FROM script_event_dead_letters WHERE tenant_id = $1 AND id = $2`, [id]);
    if (!letter) throw new NotFoundError('dead letter', id);
    return letter;
  }

  /** Runs the dead-lettered event again (with its full attempts); the dead letter records the retry. */
  async retry(tenantId: string, id: string, actor: string): Promise<{ dead_letter_id: string; execution_id: string }> {
    const created = await this.db.transaction(tenantId, async (tx) => {
      const letter = await tx.one<DeadLetter>(`SELECT ${COLUMNS} FROM script_event_dead_letters WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, [id]);
      if (!letter) throw new NotFoundError('dead letter', id);
      const { data, ...triggerData } = letter.event_data as { data?: Record<string, unknown> };
      const [execution] = await this.executions.create(tx.manager, [
        {
          script_id: letter.script_id,
          tenant_id: tenantId,
          trigger_type: 'event',
          trigger_data: { ...triggerData, retried_from_dead_letter: letter.id },
          input: data ?? {},
          max_retries: EVENT_ATTEMPTS - 1,
          executed_by: actor,
        },
      ]);
      await tx.execute('UPDATE script_event_dead_letters SET retry_count = retry_count + 1, last_retry_at = now() WHERE tenant_id = $1 AND id = $2', [id]);
      return execution;
    });
    await this.queue.enqueue([created]);
    return { dead_letter_id: id, execution_id: created.id };
  }

  /**
   * Replays the dead letters matching `filters` (at most MAX_BULK_DEAD_LETTERS, oldest first), each once:
   * the letters are locked and deleted in the transaction that creates their runs, so a concurrent
   * request cannot replay them again. A replay that fails its attempts again is dead-lettered again,
   * with its count raised (`dead_letter_replays` in its trigger data). `original` runs the version that
   * failed (the failed run's `script_version`, pinned in the replay's `trigger_data.pinned_version` and
   * loaded from script_versions by the worker, retries included); `latest` the live one. A letter whose
   * failed version is unknown (its run was deleted) or no longer stored is not replayed with
   * `original`: it is answered in `not_replayed` and stays. The request is audited.
   */
  async replay(tenantId: string, filters: DeadLetterFilters, version: 'original' | 'latest', actor: string): Promise<{ replayed: number; execution_ids: string[]; not_replayed: { dead_letter_id: string; reason: string }[]; remaining: number }> {
    const { where, params } = whereOf(filters);
    const outcome = await this.db.transaction(tenantId, async (tx) => {
      const letters = await tx.query<DeadLetter & { failed_version: number | null; version_stored: boolean }>(
        `SELECT d.id, d.script_id, d.tenant_id, d.execution_id, d.event_type, d.event_data, d.error, d.retry_count, d.last_retry_at, d.created_at,
                e.script_version AS failed_version,
                (e.script_version = s.current_version OR EXISTS (SELECT 1 FROM script_versions v WHERE v.tenant_id = d.tenant_id AND v.script_id = d.script_id AND v.version_number = e.script_version)) AS version_stored
           FROM script_event_dead_letters d JOIN scripts s ON s.id = d.script_id LEFT JOIN script_executions e ON e.id = d.execution_id
          WHERE ${where} ORDER BY d.created_at, d.id LIMIT ${MAX_BULK_DEAD_LETTERS} FOR UPDATE OF d SKIP LOCKED`,
        params,
      );
      const whyNot = (l: (typeof letters)[number]): string | null => {
        if (version !== 'original') return null;
        if (l.failed_version === null) return 'the version that failed is unknown (its execution no longer exists)';
        return l.version_stored ? null : `version ${l.failed_version} failed and is no longer stored`;
      };
      const notReplayed = letters.flatMap((l) => {
        const reason = whyNot(l);
        return reason ? [{ dead_letter_id: l.id, reason }] : [];
      });
      const skip = new Set(notReplayed.map((l) => l.dead_letter_id));
      const chosen = letters.filter((l) => !skip.has(l.id));
      const created = chosen.length
        ? await this.executions.create(
            tx.manager,
            chosen.map((letter) => {
              // A letter of a replay carries that replay's marks: this request sets its own.
              const { data, pinned_version: _pinned, ...triggerData } = letter.event_data as { data?: Record<string, unknown>; pinned_version?: unknown };
              return {
                script_id: letter.script_id,
                tenant_id: tenantId,
                trigger_type: 'event',
                trigger_data: {
                  ...triggerData,
                  retried_from_dead_letter: letter.id,
                  dead_letter_replays: letter.retry_count + 1,
                  ...(version === 'original' ? { pinned_version: letter.failed_version } : {}),
                },
                input: data ?? {},
                max_retries: EVENT_ATTEMPTS - 1,
                executed_by: actor,
              };
            }),
          )
        : [];
      if (chosen.length) await tx.execute('DELETE FROM script_event_dead_letters WHERE tenant_id = $1 AND id = ANY($2::uuid[])', [chosen.map((l) => l.id)]);
      const [{ total }] = await tx.query<{ total: number }>(`SELECT count(*)::int AS total FROM script_event_dead_letters d WHERE ${where}`, params);
      const answer = { replayed: created.length, execution_ids: created.map((e) => e.id), not_replayed: notReplayed, remaining: Math.max(0, total - notReplayed.length) };
      await this.audit(tx, actor, 'replay', { filters, version, replayed: answer.replayed, dead_letter_ids: chosen.map((l) => l.id), not_replayed: [...skip] });
      return { answer, created };
    });
    await this.queue.enqueue(outcome.created);
    return outcome.answer;
  }

  /** Deletes the dead letters matching `filters` (at most MAX_BULK_DEAD_LETTERS); audited. */
  async discardMatching(tenantId: string, filters: DeadLetterFilters, actor: string): Promise<{ discarded: number; remaining: number }> {
    const { where, params } = whereOf(filters);
    return this.db.transaction(tenantId, async (tx) => {
      const deleted = await tx.query<{ id: string }>(
        `DELETE FROM script_event_dead_letters WHERE tenant_id = $1 AND id IN (SELECT d.id FROM script_event_dead_letters d WHERE ${where} ORDER BY d.created_at, d.id LIMIT ${MAX_BULK_DEAD_LETTERS} FOR UPDATE SKIP LOCKED) RETURNING id`,
        params,
      );
      const [{ total }] = await tx.query<{ total: number }>(`SELECT count(*)::int AS total FROM script_event_dead_letters d WHERE ${where}`, params);
      await this.audit(tx, actor, 'discard', { filters, discarded: deleted.length, dead_letter_ids: deleted.map((d) => d.id) });
      return { discarded: deleted.length, remaining: total };
    });
  }

  /** One audit event per bulk request (entity_type `dead_letter`), in its transaction. */
  private async audit(tx: TenantTransaction, actor: string, action: string, details: Record<string, unknown>): Promise<void> {
    await tx.execute(`INSERT INTO audit_events (tenant_id, script_id, entity_type, entity_id, action, actor_id, details) VALUES ($1, NULL, 'dead_letter', NULL, $2, $3, $4::jsonb)`, [
      action,
      actor,
      toStorableJson(details),
    ]);
  }

  async discard(tenantId: string, id: string): Promise<void> {
    const affected = await this.db.statements(tenantId).execute('DELETE FROM script_event_dead_letters WHERE tenant_id = $1 AND id = $2', [id]);
    if (!affected) throw new NotFoundError('dead letter', id);
  }
}
