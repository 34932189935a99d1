import { Injectable } from '@nestjs/common';
import type { CrossTenant, TenantScoped } from '@provisio/persistence';

export type SegmentKind = 'read' | 'expect';

/** One segment of a run: a part of the target's search (`read`) or of the identity store (`expect`), worked as a job of its own. */
export interface SegmentRow {
  tenant_id: string;
  run_id: string;
  kind: SegmentKind;
  segment: number;
  /** `read`: the connector's segment (null: the whole search); `expect`: the identity id range `after..upTo`. */
  bounds: string | null;
  cursor: string | null;
  pages: number;
  accounts_read: number;
  skipped_accounts: number;
  watermark: string | null;
  done: boolean;
  generation: number;
  lease_token: string | null;
  heartbeat_at: Date;
  worked_by: string[];
}

export interface SegmentKey {
  run_id: string;
  kind: SegmentKind;
  segment: number;
}

/** A segment's progress after one page: where it resumes and what it counted. */
export interface SegmentStep {
  cursor: string | null;
  pages: number;
  accounts: number;
  skipped: number;
  watermark: string | null;
  done: boolean;
}

const KEY = 'run_id = $2 AND kind = $3 AND segment = $4';
/** Writes of a segment hold only while its run is running: a pause or cancel of the run stops every segment at its next write. */
const RUN_RUNNING = `EXISTS (SELECT 1 FROM reconciliation_runs r WHERE r.tenant_id = $1 AND r.id = $2 AND r.status = 'running')`;

/** Every statement of reconciliation_run_segments, and the run counters segments move. */
@Injectable()
export class RunSegmentsRepository {
  async insert(db: TenantScoped, runId: string, segments: { kind: SegmentKind; bounds: string | null }[]): Promise<void> {
    const kinds = segments.map((s) => s.kind);
    const bounds = segments.map((s) => s.bounds);
    const indexes = segments.map((s, i) => segments.slice(0, i).filter((o) => o.kind === s.kind).length);
    await db.execute(
      `INSERT INTO reconciliation_run_segments (tenant_id, run_id, kind, segment, bounds)
       SELECT $1, $2, k, i, b FROM unnest($3::text[], $4::int[], $5::text[]) AS s(k, i, b)
       ON CONFLICT DO NOTHING`,
      [runId, kinds, indexes, bounds],
    );
  }

  /** A run's segments, a read and an identity range by turns (the order they are queued in). */
  list(db: TenantScoped, runId: string): Promise<SegmentRow[]> {
    return db.query<SegmentRow>(`SELECT * FROM reconciliation_run_segments WHERE tenant_id = $1 AND run_id = $2 ORDER BY segment, kind DESC`, [runId]);
  }

  /** Takes a segment for a job of its generation while its run is running; undefined otherwise (done, taken back, run paused or ended). */
  async claim(db: TenantScoped, key: SegmentKey, generation: number, token: string, replica: string): Promise<SegmentRow | undefined> {
    const [row] = await db.query<SegmentRow>(
      `UPDATE reconciliation_run_segments
          SET lease_token = $6, heartbeat_at = now(), updated_at = now(),
              worked_by = CASE WHEN worked_by[array_length(worked_by, 1)] = $7 THEN worked_by ELSE array_append(worked_by, $7) END
        WHERE tenant_id = $1 AND ${KEY} AND generation = $5 AND NOT done AND ${RUN_RUNNING}
        RETURNING *`,
      [key.run_id, key.kind, key.segment, generation, token, replica],
    );
    return row;
  }

  /**
   * The holder's heartbeat and its run's; 0 when the lease is gone or the run is no longer running. The
   * run's row first: in a transaction its lock keeps a pause or cancel out until the commit.
   */
  async beat(db: TenantScoped, key: SegmentKey, token: string): Promise<number> {
    if (!(await db.execute(`UPDATE reconciliation_runs SET heartbeat_at = now() WHERE tenant_id = $1 AND id = $2 AND status = 'running'`, [key.run_id]))) return 0;
    return db.execute(`UPDATE reconciliation_run_segments SET heartbeat_at = now() WHERE tenant_id = $1 AND ${KEY} AND lease_token = $5`, [key.run_id, key.kind, key.segment, token]);
  }

  /** A page's checkpoint, fenced on the segment's lease and its run running: 0 rows and the caller rolls the page back. */
  step(db: TenantScoped, key: SegmentKey, token: string, step: SegmentStep): Promise<number> {
    return db.execute(
      `UPDATE reconciliation_run_segments
          SET cursor = $6, pages = $7, accounts_read = accounts_read + $8, skipped_accounts = $9, watermark = $10, done = $11,
              heartbeat_at = now(), updated_at = now()
        WHERE tenant_id = $1 AND ${KEY} AND lease_token = $5 AND NOT done AND ${RUN_RUNNING}`,
      [key.run_id, key.kind, key.segment, token, step.cursor, step.pages, step.accounts, step.skipped, step.watermark, step.done],
    );
  }

  /**
   * What a page adds to its run's counters; 0 when the run is not running. Called before the segment's
   * `step` in the page's transaction: the run row's lock then keeps a pause or cancel out until the
   * commit, so a page is counted if and only if it is staged.
   */
  countPage(db: TenantScoped, runId: string, accounts: number, total: number | null): Promise<number> {
    return db.execute(
      `UPDATE reconciliation_runs SET accounts_processed = accounts_processed + $3, api_calls_made = api_calls_made + 1,
              accounts_total = COALESCE($4, accounts_total), heartbeat_at = now(), updated_at = now()
        WHERE tenant_id = $1 AND id = $2 AND status = 'running'`,
      [runId, accounts, total],
    );
  }

  /**
   * One segment fewer to go, in the transaction that marked it done. Row-locked, so of segments ending at
   * once exactly one sees 0: the one that moves the run on. Null when the run is not running.
   */
  async segmentDone(db: TenantScoped, runId: string): Promise<number | null> {
    const [row] = await db.query<{ left: number }>(
      `UPDATE reconciliation_runs SET segments_pending = segments_pending - 1, heartbeat_at = now(), updated_at = now()
        WHERE tenant_id = $1 AND id = $2 AND status = 'running' AND segments_pending > 0 RETURNING segments_pending AS left`,
      [runId],
    );
    return row ? Number(row.left) : null;
  }

  /** Expect segments are staged again whole: what an earlier attempt of the range COPYed goes first. */
  async clearExpected(db: TenantScoped, runId: string, after: string, upTo: string): Promise<void> {
    await db.execute(`DELETE FROM reconciliation_expected_accounts WHERE tenant_id = $1 AND run_id = $2 AND identity_id > $3 AND identity_id <= $4`, [runId, after, upTo]);
  }

  /**
   * Moves a stale segment to a new generation, so only a job of the new generation can claim it; of
   * several replicas' sweeps exactly one gets the row. Undefined when it beat, ended or moved meanwhile.
   */
  async takeBack(db: CrossTenant, segment: SegmentKey & { generation: number }, abandonedAfterMs: number): Promise<number | undefined> {
    const [row] = await db.query<{ generation: number }>(
      `UPDATE reconciliation_run_segments SET generation = generation + 1, lease_token = NULL, heartbeat_at = now(), updated_at = now()
        WHERE run_id = $1 AND kind = $2 AND segment = $3 AND generation = $4 AND NOT done AND heartbeat_at < now() - make_interval(secs => $5 / 1000.0)
        RETURNING generation`,
      [segment.run_id, segment.kind, segment.segment, segment.generation, abandonedAfterMs],
    );
    return row?.generation;
  }

  /** Segments of running runs whose worker has not beaten for `abandonedAfterMs` (or whose job is still waiting: the caller asks the queue). */
  stale(db: CrossTenant, abandonedAfterMs: number, limit: number): Promise<(SegmentKey & { tenant_id: string; generation: number })[]> {
    return db.query(
      `SELECT s.tenant_id, s.run_id, s.kind, s.segment, s.generation FROM reconciliation_run_segments s
         JOIN reconciliation_runs r ON r.id = s.run_id AND r.status = 'running'
        WHERE NOT s.done AND s.heartbeat_at < now() - make_interval(secs => $1 / 1000.0)
        ORDER BY s.heartbeat_at LIMIT $2`,
      [abandonedAfterMs, limit],
    );
  }
}
