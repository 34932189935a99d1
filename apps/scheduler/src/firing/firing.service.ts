import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { createCloudEvent, EventType, messageKey, missingPermission, ScriptExecutionRequested, Topic } from '@provisio/contracts';
import { CrossTenant, TenantDatabase } from '@provisio/persistence';
import { APP_CONFIG, compileSchedule, FiringPlan, OutboxEntry, OutboxRelay, planDueOccurrence, ScheduleDefinitionError } from '@provisio/platform';
import { CLOCK, Clock } from '../clock';
import type { AppConfig } from '../config';
import { RunOutcomesService } from '../outcomes/run-outcomes.service';
import { DEFINITION_COLUMNS, DefinitionRow, definitionOf, DueJobRow, RUN_STATE_COLUMNS, RunStateRow } from '../scheduled-jobs';
import { SchedulerMetrics } from '../scheduler.metrics';

export const SCHEDULER_SOURCE = 'provisio/scheduler';
const DEFAULT_MAX_EXECUTION_TIME_MS = 30_000;

/**
 * Due jobs, claimed with `FOR NO KEY UPDATE SKIP LOCKED`: each replica gets rows no other replica holds,
 * and a row is only ever claimed while due. The claim and everything it causes commit together: the
 * execution request goes into the outbox, `next_run_at` moves past the fired occurrence and `is_running`
 * is set. A replica that dies before its commit leaves nothing behind (PostgreSQL rolls the transaction
 * back and the rows are claimable again at once); one that hangs loses its claim when PostgreSQL aborts the
 * transaction after SCHEDULER_CLAIM_TIMEOUT_MS. After the commit the row is no longer due, so no other
 * replica can fire that occurrence again. The script row is share-locked too: a pause committed before the
 * claim is seen by it, one attempted during it waits for it.
 */
const CLAIM_DUE = `
  SELECT ${DEFINITION_COLUMNS}, j.tenant_id, j.script_id, j.next_run_at, j.misfire_policy, j.owner_permissions, s.required_permissions,
         CASE WHEN jsonb_typeof(s.resource_limits -> 'max_execution_time_ms') = 'number'
              THEN (s.resource_limits ->> 'max_execution_time_ms')::numeric END AS max_execution_time_ms
    FROM script_scheduled_jobs j
    JOIN scripts s ON s.id = j.script_id
   WHERE j.status = 'active' AND s.status = 'active'
     AND j.next_run_at <= $1 AND ($3::timestamptz IS NULL OR j.next_run_at = $3)
     AND (j.is_running IS NOT TRUE OR j.allow_concurrent)
   ORDER BY j.next_run_at
   LIMIT $2
     FOR NO KEY UPDATE OF j SKIP LOCKED
     FOR SHARE OF s SKIP LOCKED`;

/** One statement for the whole batch: the state after firing, or after skipping, each claimed job. */
const APPLY_PLANS = `
  UPDATE script_scheduled_jobs j SET
         next_run_at = u.next_run_at,
         status = COALESCE(u.status, j.status),
         last_error = CASE WHEN u.error IS NULL THEN j.last_error ELSE u.error END,
         is_running = CASE WHEN u.fired THEN true ELSE j.is_running END,
         last_run_at = CASE WHEN u.fired THEN u.scheduled_for ELSE j.last_run_at END,
         last_run_status = CASE WHEN u.fired THEN 'pending' ELSE j.last_run_status END,
         run_count = j.run_count + CASE WHEN u.fired THEN 1 ELSE 0 END,
         locked_by = CASE WHEN u.fired THEN $8 ELSE j.locked_by END,
         locked_until = CASE WHEN u.fired THEN u.lease_until ELSE j.locked_until END,
         updated_at = $9
    FROM unnest($1::uuid[], $2::timestamptz[], $3::boolean[], $4::timestamptz[], $5::timestamptz[], $6::varchar[], $7::text[])
         AS u(id, next_run_at, fired, scheduled_for, lease_until, status, error)
   WHERE j.id = u.id`;

interface Fired {
  job: DueJobRow;
  plan: Extract<FiringPlan, { kind: 'fire' }>;
  entry: OutboxEntry;
}

interface ClaimedBatch {
  claimed: number;
  fired: Fired[];
  skipped: number;
  invalid: number;
  /** Occurrences not fired because the schedule's owner lacks a permission the script requires. */
  refused: number;
}

/** Why the loop's statements span tenants: every replica claims the due jobs of all of them. */
const FIRING_LOOP = 'firing loop: due schedules of every tenant';

/** At most this many jobs are prepared ahead of one instant; any more fire the normal way, after it. */
const PREPARE_MAX_JOBS = 20_000;

const secondsSince = (started: bigint) => Number(process.hrtime.bigint() - started) / 1e9;

/** A prepared firing released before its instant (the replica is stopping): rolled back, fired by whoever is up then. */
export class PreparedFiringAborted extends Error {
  constructor(at: Date) {
    super(`prepared firing of ${at.toISOString()} released before its instant; rolled back`);
    this.name = 'PreparedFiringAborted';
  }
}

@Injectable()
export class FiringService {
  private readonly logger = new Logger(FiringService.name);
  /** Who fired a run (`locked_by`). */
  readonly replicaId: string;

  constructor(
    private readonly db: TenantDatabase,
    private readonly outcomes: RunOutcomesService,
    private readonly metrics: SchedulerMetrics,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    /** This process's outbox relay, told at once when requests commit (not there when tests build the service alone). */
    @Optional() private readonly relay?: OutboxRelay,
  ) {
    this.replicaId = config.SCHEDULER_REPLICA_ID ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  /** Claims up to `limit` due jobs and fires them in one transaction. Returns how many were claimed. */
  async fireDue(limit: number = this.config.SCHEDULER_BATCH_SIZE): Promise<number> {
    const started = process.hrtime.bigint();
    const batch = await this.db.allTenantsTransaction(FIRING_LOOP, async (tx) => {
      await this.boundTransaction(tx);
      return this.claimAndPlan(tx, { now: this.clock.now(), limit });
    });
    this.recordFired([batch], secondsSince(started));
    return batch.claimed;
  }

  /**
   * Prepares the firing of the occurrence at `at` (the next one, still in the future) and commits it at
   * `at`: the jobs due then are claimed, their requests written and their rows advanced ahead of time, in
   * one transaction that `hold` keeps open until the instant comes. The requests become visible (to the
   * outbox relay) at the commit, never before; the work of a burst of occurrences (thousands of jobs on
   * the same minute) is done by then, so it adds nothing to their lag. A replica that dies while holding
   * leaves nothing behind, and the others fire those jobs the normal way.
   */
  async fireAt(at: Date, hold: () => Promise<void>): Promise<number> {
    const batches: ClaimedBatch[] = [];
    const started = process.hrtime.bigint();
    let preparation = 0;
    await this.db.allTenantsTransaction(FIRING_LOOP, async (tx) => {
      await this.boundTransaction(tx);
      const limit = this.config.SCHEDULER_BATCH_SIZE;
      for (let total = 0; total < PREPARE_MAX_JOBS; ) {
        const batch = await this.claimAndPlan(tx, { now: at, limit, exactly: at });
        batches.push(batch);
        total += batch.claimed;
        // The instant came before the preparation ended (a slow machine): commit what is ready, and let
        // the normal path fire the rest rather than hold these back.
        if (batch.claimed < limit || this.clock.now().getTime() >= at.getTime()) break;
      }
      if (batches.every((b) => b.claimed === 0)) return;
      preparation = secondsSince(started);
      await hold();
      // Never early: a hold cut short (shutdown) rolls the preparation back instead of committing it.
      if (this.clock.now().getTime() < at.getTime()) throw new PreparedFiringAborted(at);
    });
    this.recordFired(batches, preparation);
    const prepared = batches.reduce((n, b) => n + b.claimed, 0);
    if (prepared > 0) this.lastPreparationMs = preparation * 1000;
    return prepared;
  }

  /** How long the last preparation took: the loop starts the next one at least that early (and then some). */
  lastPreparationMs = 0;

  /** Claims due jobs (or exactly those due at `exactly`) in the caller's transaction, fires them, advances them. */
  private async claimAndPlan(tx: CrossTenant, { now, limit, exactly }: { now: Date; limit: number; exactly?: Date }): Promise<ClaimedBatch> {
    const result: ClaimedBatch = { claimed: 0, fired: [], skipped: 0, invalid: 0, refused: 0 };
    const jobs = await tx.query<DueJobRow>(CLAIM_DUE, [now, limit, exactly ?? null]);
    result.claimed = jobs.length;
    if (jobs.length === 0) return result;

    const columns = { id: [] as string[], next: [] as (Date | null)[], fired: [] as boolean[], slot: [] as (Date | null)[], lease: [] as (Date | null)[], status: [] as (string | null)[], error: [] as (string | null)[] };
    for (const job of jobs) {
      let plan: FiringPlan;
      try {
        plan = planDueOccurrence(job, compileSchedule(definitionOf(job)), now, this.config.SCHEDULER_MISFIRE_THRESHOLD_MS);
      } catch (error) {
        if (!(error instanceof ScheduleDefinitionError)) throw error;
        result.invalid++;
        this.push(columns, job.id, { next: null, fired: false, status: 'disabled', error: `invalid schedule (${error.field}): ${error.message}; disabled` });
        this.logger.error({ message: 'schedule cannot be evaluated; disabled', schedule_id: job.id, tenant_id: job.tenant_id, field: error.field, error: error.message });
        continue;
      }
      // A schedule with no further occurrence (a `once` that has fired) is done.
      const exhausted = plan.next_run_at === null;
      result.skipped += plan.skipped;
      if (plan.skipped > 0) {
        this.logger.warn({ message: `missed occurrences (misfire_policy ${job.misfire_policy})`, schedule_id: job.id, tenant_id: job.tenant_id, due: job.next_run_at.toISOString(), skipped: plan.skipped, catch_up: plan.kind === 'fire', next_run_at: plan.next_run_at?.toISOString() ?? null });
      }
      // A scheduled run has no caller: it runs as whoever last wrote the schedule (owner_permissions).
      const missing = plan.kind === 'fire' ? missingPermission(new Set(job.owner_permissions), job.required_permissions) : undefined;
      if (plan.kind === 'fire' && missing) {
        result.refused++;
        const error = `not run: the script requires permission ${missing}, which the schedule's owner did not hold when the schedule was last written (re-save it as a user who holds it)`;
        await this.recordRefused(tx, job, plan.scheduled_for, error, now);
        this.push(columns, job.id, { next: plan.next_run_at, fired: false, status: exhausted ? 'disabled' : null, error });
        this.logger.warn({ message: 'scheduled run refused: missing permission', schedule_id: job.id, tenant_id: job.tenant_id, script_id: job.script_id, missing_permission: missing });
      } else if (plan.kind === 'fire') {
        const maxMs = Number(job.max_execution_time_ms ?? DEFAULT_MAX_EXECUTION_TIME_MS) || DEFAULT_MAX_EXECUTION_TIME_MS;
        result.fired.push({ job, plan, entry: this.requestFor(job, plan, now) });
        this.push(columns, job.id, { next: plan.next_run_at, fired: true, slot: plan.scheduled_for, lease: new Date(now.getTime() + maxMs + this.config.SCHEDULER_RUN_GRACE_MS), status: exhausted ? 'disabled' : null });
      } else {
        this.push(columns, job.id, { next: plan.next_run_at, fired: false, status: exhausted ? 'disabled' : null });
      }
    }
    await tx.publish(result.fired.map((f) => f.entry));
    await tx.execute(APPLY_PLANS, [columns.id, columns.next, columns.fired, columns.slot, columns.lease, columns.status, columns.error, this.replicaId, now]);
    return result;
  }

  /** After the commit: the requests exist. Lag is measured to here (due → committed to the outbox). */
  private recordFired(batches: ClaimedBatch[], claimSeconds: number): void {
    if (!batches.some((b) => b.claimed > 0)) return;
    this.relay?.nudge();
    const committedAt = this.clock.now().getTime();
    for (const batch of batches) {
      for (const { plan } of batch.fired) {
        this.metrics.firingLag.observe(Math.max(0, committedAt - plan.scheduled_for.getTime()) / 1000);
        this.metrics.fired.inc({ kind: plan.catch_up ? 'catch_up' : 'scheduled' });
      }
      if (batch.skipped) this.metrics.skipped.inc({ reason: 'misfire' }, batch.skipped);
      if (batch.invalid) this.metrics.skipped.inc({ reason: 'invalid_schedule' }, batch.invalid);
      if (batch.refused) this.metrics.skipped.inc({ reason: 'missing_permission' }, batch.refused);
    }
    this.metrics.claimDuration.observe(claimSeconds);
  }

  /**
   * Gives `next_run_at` to active schedules of active scripts that have none: new schedules, changed
   * ones and re-activated ones (the registry sets it to NULL then). The first occurrence strictly after
   * now: re-activation never fires what was missed meanwhile.
   */
  async scheduleNew(limit: number = this.config.SCHEDULER_BATCH_SIZE): Promise<number> {
    return this.db.allTenantsTransaction(FIRING_LOOP, async (tx) => {
      await this.boundTransaction(tx);
      const now = this.clock.now();
      const rows = await tx.query<DefinitionRow & { tenant_id: string }>(
        `SELECT ${DEFINITION_COLUMNS}, j.tenant_id
           FROM script_scheduled_jobs j JOIN scripts s ON s.id = j.script_id
          WHERE j.status = 'active' AND j.next_run_at IS NULL AND s.status = 'active'
          LIMIT $1
            FOR NO KEY UPDATE OF j SKIP LOCKED`,
        [limit],
      );
      if (rows.length === 0) return 0;
      const ids: string[] = [];
      const next: (Date | null)[] = [];
      const status: (string | null)[] = [];
      const errors: (string | null)[] = [];
      for (const row of rows) {
        ids.push(row.id);
        try {
          const at = compileSchedule(definitionOf(row)).next(now);
          next.push(at);
          status.push(at ? null : 'disabled');
          errors.push(null);
        } catch (error) {
          if (!(error instanceof ScheduleDefinitionError)) throw error;
          next.push(null);
          status.push('disabled');
          errors.push(`invalid schedule (${error.field}): ${error.message}; disabled`);
          this.metrics.skipped.inc({ reason: 'invalid_schedule' });
          this.logger.error({ message: 'schedule cannot be evaluated; disabled', schedule_id: row.id, tenant_id: row.tenant_id, field: error.field, error: error.message });
        }
      }
      await tx.execute(
        `UPDATE script_scheduled_jobs j
            SET next_run_at = u.next_run_at, status = COALESCE(u.status, j.status),
                last_error = COALESCE(u.error, j.last_error), updated_at = $5
           FROM unnest($1::uuid[], $2::timestamptz[], $3::varchar[], $4::text[]) AS u(id, next_run_at, status, error)
          WHERE j.id = u.id`,
        [ids, next, status, errors, now],
      );
      return rows.length;
    });
  }

  /**
   * Runs that held `is_running` past their lease (the script's max_execution_time_ms plus
   * SCHEDULER_RUN_GRACE_MS, from when they fired) are released and recorded as `timeout`, so one lost
   * result does not stop a schedule.
   */
  async releaseStuckRuns(limit = 500): Promise<number> {
    return this.db.allTenantsTransaction('stuck-run sweep: runs of every tenant past their lease', async (tx) => {
      await this.boundTransaction(tx);
      const now = this.clock.now();
      const rows = await tx.query<RunStateRow>(
        `SELECT ${RUN_STATE_COLUMNS} FROM script_scheduled_jobs j
          WHERE j.is_running AND (j.locked_until IS NULL OR j.locked_until < $1)
          LIMIT $2
            FOR NO KEY UPDATE SKIP LOCKED`,
        [now, limit],
      );
      for (const row of rows) await this.outcomes.releaseExpired(tx.tenant(row.tenant_id), row, now);
      return rows.length;
    });
  }

  /** The earliest future occurrence of any active schedule: the loop sleeps until then. */
  async nextDueAt(): Promise<Date | null> {
    const [{ at }] = await this.db.allTenants(FIRING_LOOP).query<{ at: Date | null }>(
      `SELECT min(next_run_at) AS at FROM script_scheduled_jobs WHERE status = 'active' AND next_run_at > $1`,
      [this.clock.now()],
    );
    return at;
  }

  /** PostgreSQL ends a claim that outlives this (a hung replica), releasing its rows: the claim's lease. */
  private async boundTransaction(tx: CrossTenant): Promise<void> {
    const timeout = `${this.config.SCHEDULER_CLAIM_TIMEOUT_MS}ms`;
    await tx.query(`SELECT set_config('statement_timeout', $1, true), set_config('idle_in_transaction_session_timeout', $1, true)`, [timeout]);
  }

  private push(
    columns: { id: string[]; next: (Date | null)[]; fired: boolean[]; slot: (Date | null)[]; lease: (Date | null)[]; status: (string | null)[]; error: (string | null)[] },
    id: string,
    row: { next: Date | null; fired: boolean; slot?: Date; lease?: Date; status: string | null; error?: string },
  ): void {
    columns.id.push(id);
    columns.next.push(row.next);
    columns.fired.push(row.fired);
    columns.slot.push(row.slot ?? null);
    columns.lease.push(row.lease ?? null);
    columns.status.push(row.status);
    columns.error.push(row.error ?? null);
  }

  /** The occurrence as a `skipped` execution of the script, with the reason, so the refusal shows in its logs. */
  private async recordRefused(tx: CrossTenant, job: DueJobRow, scheduledFor: Date, error: string, now: Date): Promise<void> {
    await tx.tenant(job.tenant_id).execute(
      `INSERT INTO script_executions (tenant_id, script_id, status, trigger_type, trigger_data, error, scheduled_job_id, scheduled_for, started_at, completed_at)
       VALUES ($1, $2, 'skipped', 'cron', $3::jsonb, $4, $5, $6, $7, $7)`,
      [job.script_id, JSON.stringify({ schedule_id: job.id, scheduled_for: scheduledFor.toISOString() }), error, job.id, scheduledFor, now],
    );
  }

  private requestFor(job: DueJobRow, plan: Extract<FiringPlan, { kind: 'fire' }>, now: Date): OutboxEntry {
    const scheduledFor = plan.scheduled_for.toISOString();
    const data: ScriptExecutionRequested = {
      script_id: job.script_id,
      trigger_type: 'cron',
      input: {},
      trigger_data: {
        schedule_id: job.id,
        scheduled_for: scheduledFor,
        frequency: job.frequency,
        cron_expression: job.cron_expression,
        timezone: job.timezone ?? 'UTC',
        catch_up: plan.catch_up,
        ...(plan.catch_up ? { missed_occurrences: plan.skipped + 1 } : {}),
      },
      scheduled_job_id: job.id,
      scheduled_for: scheduledFor,
    };
    const event = createCloudEvent({ source: SCHEDULER_SOURCE, type: EventType.ScriptExecutionRequested, tenantid: job.tenant_id, subject: job.script_id, time: now, data });
    return { topic: Topic.ScriptExecutionRequests, key: messageKey.tenantScript(job.tenant_id, job.script_id), event };
  }
}
