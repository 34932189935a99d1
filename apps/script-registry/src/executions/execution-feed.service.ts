import { Injectable } from '@nestjs/common';
import { maskSecretInput, TERMINAL_EXECUTION_STATUSES } from '@provisio/contracts';
import { TenantDatabase } from '@provisio/persistence';
import { Principal, SqlFilters, ValidationError } from '@provisio/platform';
import type { ExecutionDto, ExecutionFeedQueryDto } from './dtos/execution.dto';

/**
 * A finished record is in the feed once it is this old. Every record is one statement, committed a few
 * milliseconds after its `completed_at` (clock_timestamp() inside it); a reader that read up to "now"
 * could pass a record whose transaction commits just after, and never see it. Reading only up to
 * now − SETTLE_MS is what makes the keyset cursor miss nothing: a record committing later than that
 * after its own `completed_at` (a transaction held open seconds after it recorded) is the one case left.
 */
export const FEED_SETTLE_MS = 2_000;

const COLUMNS = `e.id, e.tenant_id, e.script_id, e.status, e.trigger_type, e.input, e.output, e.error, e.metrics, e.script_version, e.executed_by,
  e.cancelled_by, e.cancelled_at, e.started_at, e.completed_at, e.retry_count, e.parent_execution_id, e.dry_run`;
/** `completed_at` as text with its microseconds (a JS Date would drop them, and the cursor would repeat or skip rows). */
const AT_TEXT = (column: string) => `to_char((${column}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
const CURSOR = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
const ZERO_ID = '00000000-0000-0000-0000-000000000000';

export interface FeedPage {
  items: (ExecutionDto & { cursor: string })[];
  /** Where the next read starts: the last item's cursor, or the one given when nothing new was recorded. */
  cursor: string;
}

interface FeedRow extends Omit<ExecutionDto, 'finished'> {
  at: string;
}

/** The opaque cursor of a position in the feed: (completed_at with microseconds, id). */
function encode(at: string, id: string): string {
  return Buffer.from(`${at}/${id}`, 'utf8').toString('base64url');
}

function decode(cursor: string, field: string): { at: string; id: string } {
  const match = cursor.length <= 200 ? CURSOR.exec(Buffer.from(cursor, 'base64url').toString('utf8')) : null;
  if (!match || Number.isNaN(Date.parse(match[1]))) throw new ValidationError('is not a cursor this feed handed out', field);
  return { at: match[1], id: match[2] };
}

/**
 * The tenant's executions in the order they were recorded finished, after a keyset cursor
 * (`completed_at`, `id`): each record once, none skipped (FEED_SETTLE_MS says why it reads a little
 * behind), whatever arrives meanwhile. `GET /executions/feed` pages through it; `GET /executions/stream`
 * serves it as Server-Sent Events; `provisio executions tail` follows the stream.
 */
@Injectable()
export class ExecutionFeedService {
  constructor(private readonly db: TenantDatabase) {}

  /** The cursor of "from now on": records finished before now − FEED_SETTLE_MS are behind it. */
  async start(principal: Principal): Promise<string> {
    const [{ at }] = await this.db
      .read(principal)
      .query<{ at: string }>(`SELECT ${AT_TEXT('clock_timestamp() - make_interval(secs => $2::double precision / 1000)')} AS at FROM (VALUES ($1::uuid)) AS v(tenant_id) WHERE v.tenant_id = $1`, [FEED_SETTLE_MS]);
    return encode(at, ZERO_ID);
  }

  /** Checks a cursor given by a client (400 naming `field` when it is not one of ours). */
  check(cursor: string, field = 'after'): string {
    decode(cursor, field);
    return cursor;
  }

  /** Up to `limit` records after `after` (default: from now on), oldest first, with the filters of `GET /executions`. */
  async page(principal: Principal, query: ExecutionFeedQueryDto, after?: string): Promise<FeedPage> {
    const cursor = after ?? query.after ?? (await this.start(principal));
    const position = decode(cursor, 'after');
    const filters = new SqlFilters('e.tenant_id').add('e.completed_at IS NOT NULL AND e.dry_run = false AND (e.completed_at, e.id) > (?::timestamptz, ?::uuid)', position.at, position.id);
    filters.add('e.completed_at < clock_timestamp() - make_interval(secs => ?::double precision / 1000)', FEED_SETTLE_MS);
    if (query.script_id) filters.add('e.script_id = ?::uuid', query.script_id);
    if (query.status?.length) filters.add('e.status = ANY(?::text[])', query.status);
    if (query.trigger_type?.length) filters.add('e.trigger_type = ANY(?::text[])', query.trigger_type);
    const limit = query.limit ?? 100;
    const rows = await this.db
      .read(principal)
      .query<FeedRow>(`SELECT ${COLUMNS}, ${AT_TEXT('e.completed_at')} AS at FROM script_executions e WHERE ${filters.where} ORDER BY e.completed_at, e.id LIMIT ${Number(limit)}`, filters.params);
    const items = rows.map(({ at, ...row }) => ({
      ...row,
      input: maskSecretInput([], row.input) as Record<string, unknown> | null,
      finished: (TERMINAL_EXECUTION_STATUSES as readonly string[]).includes(row.status),
      cursor: encode(at, row.id),
    }));
    return { items, cursor: items.length ? items[items.length - 1].cursor : cursor };
  }
}
