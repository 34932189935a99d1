import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Job as BullJob, Queue as BullQueue, Worker } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Connector, isConnectorError, SearchPage } from '@provisio/connectors';
import { Job, Queue } from '@provisio/contracts';
import { TenantDatabase, TenantScoped } from '@provisio/persistence';
import { APP_CONFIG, RedisService } from '@provisio/platform';
import { classify, destructiveCounts, dropStaging, refreshClassificationStatistics } from '../classification/classifier';
import { copyRows, CopyValue } from '../classification/copy-rows';
import { correlationRulesSchema, defaultCorrelationRules } from '../classification/correlation-rules';
import { ExpectedAccounts } from '../classification/expected-accounts';
import { TargetConnectors, TargetDefinition } from '../common/target-connectors';
import { ConnectorSettingsRepository } from '../connector-settings/connector-settings.repository';
import { RemediationService } from '../remediation/remediation.service';
import type { AppConfig } from '../config';
import { announceRunFinished } from './run-finished';
import { identityRanges, segmentJobId } from './run-segments';
import { RunSegmentsRepository, SegmentKey, SegmentKind, SegmentRow } from './run-segments.repository';
import { RunRow, RunsRepository } from './runs.repository';

export interface RunReconciliationJob {
  tenant_id: string;
  run_id: string;
}

/** One segment of a run to work: which one, of which generation (a job of an older one finds it taken back). */
export interface ReconcileSegmentJob extends RunReconciliationJob {
  kind: SegmentKind;
  segment: number;
  generation: number;
}

type EngineJob = RunReconciliationJob | ReconcileSegmentJob;

/** The run is no longer this worker's (paused, cancelled, or taken back by the sweep): stop, roll back the step. */
class LeaseLost extends Error {}

const MAX_UID = 500;
const SWEEP_BATCH = 100;
/** Staging seq of a read segment's rows: segment × SEQ_SEGMENT + page × SEQ_PAGE + position (pages ≤ 50,000 objects). */
const SEQ_PAGE = 100_000;
const SEQ_SEGMENT = 1_000_000 * SEQ_PAGE;
/** This process, as segments record who worked them. */
const REPLICA = `${hostname()}:${process.pid}`;
export const DEFAULT_DELETE_THRESHOLD_PERCENT = 20;

/**
 * Works reconciliation runs: BullMQ on Redis carries only ids, PostgreSQL holds the truth. A run's job
 * (job id = run id, so enqueueing twice is a no-op) plans the run and moves it from phase to phase; the
 * reading is cut into segments (reconciliation_run_segments), each a job of its own that any replica
 * takes (job id = run id + segment + generation). A run's phases (docs/reconciliation.md):
 *
 *   reading      segments of the connector's search (SQL key ranges, SCIM startIndex ranges, one for
 *                LDAP and deltas), each page COPYed into staging in the transaction that moves its
 *                segment's checkpoint (the next page's cursor): a resume reads at most one page again
 *                per segment; a full run's expected side is cut into identity id ranges beside them.
 *                The transaction that ends the last segment (a row-locked counter on the run) is the one
 *                whose replica moves the run on (`finishRun`);
 *   expecting    (delta) expected attributes of the identities linked to what was read (mapping, COPY);
 *   classifying  set-based SQL (classification/classifier.ts), one transaction;
 *   guarding     what the default actions would delete or inactivate; over the threshold the run pauses;
 *   done         completed, with its watermark for the next delta.
 *
 * Every write of a step is fenced on the run's lease token and `status = 'running'`: an operator's
 * pause or cancel, or a sweep that gave the run to another worker, makes the step roll back and stop.
 * The sweep re-enqueues pending runs whose job Redis lost and running runs whose worker stopped beating.
 */
@Injectable()
export class RunEngine implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(RunEngine.name);
  readonly queue: BullQueue<EngineJob>;
  private worker?: Worker<EngineJob>;
  private sweepTimer?: NodeJS.Timeout;
  private sweeping = false;
  /** How often a worker beats: well within the time after which the sweep takes its work back. */
  private readonly beatMs: number;
  /** Read segments this process reads now, and those waiting for a reader (see `reading`). */
  private readersBusy = 0;
  private readonly readerFreed: (() => void)[] = [];

  constructor(
    private readonly db: TenantDatabase,
    private readonly runs: RunsRepository,
    private readonly segments: RunSegmentsRepository,
    private readonly settings: ConnectorSettingsRepository,
    private readonly targets: TargetConnectors,
    private readonly expected: ExpectedAccounts,
    private readonly remediation: RemediationService,
    private readonly redis: RedisService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.beatMs = Math.max(100, Math.min(10_000, Math.floor(config.RECONCILIATION_ABANDONED_AFTER_MS / 3)));
    this.queue = new BullQueue<EngineJob>(Queue.Reconciliation, { connection: redis.connectionOptions(), prefix: redis.key('bull') });
    this.queue.on('error', (error) => this.logger.warn({ message: 'reconciliation queue connection error', error: error.message }));
  }

  onApplicationBootstrap(): void {
    this.worker = new Worker<EngineJob>(Queue.Reconciliation, (job) => this.process(job), {
      connection: this.redis.connectionOptions(),
      prefix: this.redis.key('bull'),
      concurrency: this.config.RECONCILIATION_CONCURRENCY,
      lockDuration: 60_000,
    });
    this.worker.on('error', (error) => this.logger.warn({ message: 'reconciliation worker error', error: error.message }));
    this.sweepTimer = setInterval(() => void this.sweep(), this.config.RECONCILIATION_SWEEP_INTERVAL_MS);
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.sweepTimer);
    await this.worker?.close();
    await this.queue.close();
  }

  async enqueue(run: { tenant_id: string; id: string }): Promise<void> {
    await this.add(Job.RunReconciliation, { tenant_id: run.tenant_id, run_id: run.id }, run.id);
  }

  private async enqueueSegment(tenantId: string, segment: SegmentKey, generation: number): Promise<void> {
    const data: ReconcileSegmentJob = { tenant_id: tenantId, run_id: segment.run_id, kind: segment.kind, segment: segment.segment, generation };
    await this.add(Job.ReconcileSegment, data, segmentJobId(segment, generation));
  }

  /** Adds a job unless one of that id is queued or running (then it is a no-op). */
  private async add(name: string, data: EngineJob, jobId: string): Promise<void> {
    const existing = await this.queue.getJob(jobId);
    if (existing) {
      const state = await existing.getState();
      if (state === 'active' || state === 'waiting' || state === 'delayed' || state === 'prioritized') return;
      await existing.remove().catch(() => undefined);
    }
    await this.queue.add(name, data, { jobId, removeOnComplete: true, removeOnFail: true, attempts: 1 });
  }

  /** Re-enqueues runs without a live worker; answers how many. */
  async sweep(): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    try {
      const stale = await this.runs.stale(
        this.db.allTenants('reconciliation sweep: runs of every tenant whose job or worker was lost'),
        this.config.RECONCILIATION_SWEEP_INTERVAL_MS,
        this.config.RECONCILIATION_ABANDONED_AFTER_MS,
        SWEEP_BATCH,
      );
      for (const run of stale) {
        const job = await this.queue.getJob(run.id);
        // An active job whose worker died stays active until BullMQ's stall check: take it back now.
        if (job) await job.remove().catch(() => undefined);
        await this.enqueue(run);
      }
      if (stale.length) this.logger.log({ message: 'sweep re-enqueued reconciliation runs', count: stale.length });
      return stale.length + (await this.sweepSegments());
    } catch (error) {
      this.logger.warn({ message: 'reconciliation sweep failed', error: (error as Error).message });
      return 0;
    } finally {
      this.sweeping = false;
    }
  }

  /**
   * Segments of running runs whose worker stopped beating: each moves to a new generation (one replica's
   * sweep wins it) and is enqueued again; its new worker resumes from the segment's checkpoint. A segment
   * whose job still waits in the queue (behind others) is not abandoned and stays as it is.
   */
  private async sweepSegments(): Promise<number> {
    const all = this.db.allTenants('reconciliation sweep: segments of every tenant whose worker was lost');
    let taken = 0;
    for (const segment of await this.segments.stale(all, this.config.RECONCILIATION_ABANDONED_AFTER_MS, SWEEP_BATCH)) {
      const job = await this.queue.getJob(segmentJobId(segment, segment.generation));
      const state = job ? await job.getState() : 'missing';
      if (state === 'waiting' || state === 'delayed' || state === 'prioritized') continue;
      const generation = await this.segments.takeBack(all, segment, this.config.RECONCILIATION_ABANDONED_AFTER_MS);
      if (generation === undefined) continue;
      this.logger.log({ message: 'sweep took back a reconciliation segment', run_id: segment.run_id, kind: segment.kind, segment: segment.segment, generation, job_state: state });
      await this.enqueueSegment(segment.tenant_id, segment, generation);
      taken += 1;
    }
    return taken;
  }

  private async process(job: BullJob<EngineJob>): Promise<void> {
    if (job.name === Job.ReconcileSegment) return this.processSegment(job.data as ReconcileSegmentJob);
    return this.processRun(job.data.tenant_id, job.data.run_id);
  }

  private async processRun(tenantId: string, runId: string): Promise<void> {
    const token = randomUUID();
    const run = await this.runs.claim(this.db.statements(tenantId), runId, token);
    if (!run) return; // paused, cancelled or ended meanwhile
    const beat = setInterval(() => void this.runs.advance(this.db.statements(tenantId), runId, token, 'api_calls_made = api_calls_made').catch(() => undefined), this.beatMs);
    try {
      await this.work(run, token);
    } catch (error) {
      if (error instanceof LeaseLost) {
        const now = await this.runs.find(this.db.read(tenantId), runId);
        if (now && (now.status === 'cancelled' || now.status === 'failed')) await this.db.transaction(tenantId, (tx) => dropStaging(tx, runId));
        // Resumed while this job still ran (its enqueue was a no-op then): enqueue again once this job is gone.
        if (now && now.status === 'running' && now.lease_token === null) setTimeout(() => void this.enqueue(now).catch(() => undefined), 200).unref();
        return;
      }
      await this.fail(tenantId, runId, error, (tx, set, params) => this.runs.advance(tx, runId, token, set, params));
    } finally {
      clearInterval(beat);
    }
  }

  /** Fails the run (through `advance`, fenced as its caller holds the run), drops its staging, announces the end. */
  private async fail(tenantId: string, runId: string, error: unknown, advance: (tx: TenantScoped, set: string, params: unknown[]) => Promise<number>): Promise<void> {
    const message = isConnectorError(error) ? `${error.code}: ${error.message}` : (error as Error).message;
    this.logger.warn({ message: 'reconciliation run failed', run_id: runId, error: message });
    await this.db.transaction(tenantId, async (tx) => {
      const failed = await advance(tx, `status = 'failed', error_message = $4, completed_at = now(), duration_seconds = extract(epoch FROM now() - started_at), lease_token = NULL`, [message.slice(0, 10_000)]);
      if (failed) {
        await dropStaging(tx, runId);
        await announceRunFinished(tx, this.runs, runId);
      }
    });
  }

  /**
   * One segment's job: claims it (its generation, its run running), works it, and when its transaction
   * ended the run's last segment, moves the run on in this same process.
   */
  private async processSegment(job: ReconcileSegmentJob): Promise<void> {
    const { tenant_id: tenantId, run_id: runId } = job;
    const key: SegmentKey = { run_id: runId, kind: job.kind, segment: job.segment };
    const token = randomUUID();
    const segment = await this.segments.claim(this.db.statements(tenantId), key, job.generation, token, REPLICA);
    if (!segment) return; // done, taken back by the sweep, or its run paused or ended
    const beat = setInterval(() => void this.segments.beat(this.db.statements(tenantId), key, token).catch(() => undefined), this.beatMs);
    let left: number | null = null;
    try {
      const run = (await this.runs.find(this.db.read(tenantId), runId))!;
      const target = await this.targets.definition(this.db.read(tenantId), run.connector_id);
      left = segment.kind === 'read' ? await this.reading(() => this.readSegment(run, target, segment, token)) : await this.expectSegment(run, target, segment, token);
    } catch (error) {
      // A write that failed because the segment is no longer ours (a stale COPY after a takeover) is a lost lease too.
      if (error instanceof LeaseLost || !(await this.segments.beat(this.db.statements(tenantId), key, token).catch(() => 0))) {
        const now = await this.runs.find(this.db.read(tenantId), runId);
        if (now && (now.status === 'cancelled' || now.status === 'failed')) await this.db.transaction(tenantId, (tx) => dropStaging(tx, runId));
        // Resumed while this job still ran (the resume's enqueue was a no-op then): enqueue again once this job is gone.
        if (now && now.status === 'running') setTimeout(() => void this.enqueueSegment(tenantId, key, job.generation).catch(() => undefined), 200).unref();
        return;
      }
      await this.fail(tenantId, runId, error, (tx, set, params) => this.runs.advanceRunning(tx, runId, set, params));
      return;
    } finally {
      clearInterval(beat);
    }
    if (left === 0) {
      this.logger.log({ message: 'last segment staged: moving the run on', run_id: runId, replica: REPLICA });
      await this.processRun(tenantId, runId);
    }
  }

  private async work(run: RunRow, token: string): Promise<void> {
    const target = await this.targets.definition(this.db.read(run.tenant_id), run.connector_id);
    if (run.phase === 'reading' && (await this.dispatchSegments(run, target, token)) > 0) return; // the segments' jobs carry it on
    await this.finishRun(run, target, token);
  }

  /**
   * Cuts a run into segments the first time (in one transaction fenced on the run's lease), then enqueues
   * every segment not done; answers how many those are. A full run: RECONCILIATION_SEGMENTS read segments
   * as the connector cuts them (one when it cannot) and as many identity ranges for the expected side,
   * interleaved in the queue; a delta: one read segment (its watermark is one search's).
   */
  private async dispatchSegments(run: RunRow, target: TargetDefinition, token: string): Promise<number> {
    const tenantId = run.tenant_id;
    let segments = await this.segments.list(this.db.read(tenantId), run.id);
    if (segments.length === 0) {
      const since = run.mode === 'delta' ? await this.runs.lastWatermark(this.db.read(tenantId), run.connector_id) : null;
      const count = run.mode === 'full' ? this.config.RECONCILIATION_SEGMENTS : 1;
      let reads: (string | null)[] = [null];
      if (count > 1) {
        const connector: Connector = this.targets.build(target.row);
        try {
          if (connector.segments) reads = await connector.segments('account', count, { pageSize: this.config.RECONCILIATION_PAGE_SIZE });
        } finally {
          await connector.close().catch(() => undefined);
        }
      }
      // Interleaved: a process reads RECONCILIATION_READERS segments at once (see `reading`), and its
      // other slots stage identity ranges meanwhile.
      const expects = run.mode === 'full' ? identityRanges(count) : [];
      const plan: { kind: SegmentKind; bounds: string | null }[] = [];
      for (let i = 0; i < Math.max(reads.length, expects.length); i++) {
        if (i < reads.length) plan.push({ kind: 'read', bounds: reads[i] });
        if (i < expects.length) plan.push({ kind: 'expect', bounds: expects[i] });
      }
      await this.db.transaction(tenantId, async (tx) => {
        // A fresh start: anything an earlier attempt staged goes.
        await dropStaging(tx, run.id);
        await this.segments.insert(tx, run.id, plan);
        // accounts_processed counts what is staged: nothing is, after the drop (a run planned again after an upgrade starts over).
        const planned = await this.runs.advance(tx, run.id, token, `segments_pending = $4, checkpoint = $5::jsonb, accounts_processed = 0`, [plan.length, JSON.stringify({ since, segments: plan.length })]);
        if (!planned) throw new LeaseLost();
      });
      this.logger.log({ message: 'run cut into segments', run_id: run.id, read_segments: reads.length, expect_segments: expects.length });
      segments = await this.segments.list(this.db.read(tenantId), run.id);
    }
    const open = segments.filter((s) => !s.done);
    for (const segment of open) await this.enqueueSegment(tenantId, segment, segment.generation);
    return open.length;
  }

  /**
   * The end of a run, once every segment is staged: (delta) the expected side, classification, then the
   * guard rail and completion. Whoever holds the run's lease runs it, from wherever it stopped.
   */
  private async finishRun(run: RunRow, target: TargetDefinition, token: string): Promise<void> {
    const tenantId = run.tenant_id;
    if (run.phase === 'reading') await this.closeReading(run, token);
    if (run.mode === 'delta' && ['reading', 'expecting'].includes(run.phase)) {
      await this.phase(run, token, 'expecting');
      await this.db.transaction(tenantId, (tx) => tx.execute('DELETE FROM reconciliation_expected_accounts WHERE tenant_id = $1 AND run_id = $2', [run.id]));
      await this.expected.stage(run, target, () => this.held(run, token));
    }
    if (['reading', 'expecting', 'classifying'].includes(run.phase)) {
      await this.phase(run, token, 'classifying');
      const settings = await this.settings.find(this.db.read(tenantId), run.connector_id);
      const own = correlationRulesSchema.safeParse(settings?.correlation_rules ?? []);
      const rules = own.success && own.data.length ? own.data : defaultCorrelationRules(target.mapping);
      await refreshClassificationStatistics(this.db.allTenants('reconciliation: planner statistics of the tables a classification joins'));
      await this.db.transaction(tenantId, async (tx) => {
        const timings: Record<string, number> = {};
        const counts = await classify(tx, { runId: run.id, connectorId: run.connector_id, mode: run.mode, rules }, timings);
        this.logger.log({ message: 'run classified', run_id: run.id, counts, statement_ms: timings });
        const total = Object.values(counts).reduce((a, b) => a + b, 0);
        if (!(await this.runs.advance(tx, run.id, token, `discrepancies_found = $4, phase = 'guarding', phase_started_at = now()`, [total]))) throw new LeaseLost();
      });
    }
    await this.guardOrComplete(run, token);
  }

  /**
   * Runs a read segment once one of this process's RECONCILIATION_READERS readers is free (the segment is
   * claimed and beating meanwhile). A process reads at an even pace, so a run's reading rate, and its ETA,
   * hold from the first page to the last, and its memory holds as many pages as it has readers; more
   * replicas read more segments at once.
   */
  private async reading<T>(work: () => Promise<T>): Promise<T> {
    while (this.readersBusy >= this.config.RECONCILIATION_READERS) await new Promise<void>((resolve) => this.readerFreed.push(resolve));
    this.readersBusy += 1;
    try {
      return await work();
    } finally {
      this.readersBusy -= 1;
      this.readerFreed.shift()?.();
    }
  }

  /** The run's checkpoint from its segments: where the next delta starts (its read segment's watermark), what was skipped. */
  private async closeReading(run: RunRow, token: string): Promise<void> {
    const segments = (await this.segments.list(this.db.read(run.tenant_id), run.id)).filter((s) => s.kind === 'read');
    const watermarks = segments.map((s) => s.watermark).filter((w): w is string => w !== null);
    const watermark = watermarks.sort((a, b) => Date.parse(a) - Date.parse(b) || a.localeCompare(b)).pop() ?? run.checkpoint?.since ?? null;
    const checkpoint = {
      since: run.checkpoint?.since ?? null,
      segments: run.checkpoint?.segments,
      reading_done: true,
      pages: segments.reduce((n, s) => n + s.pages, 0),
      watermark,
      skipped_accounts: segments.reduce((n, s) => n + s.skipped_accounts, 0),
    };
    if (!(await this.runs.advance(this.db.statements(run.tenant_id), run.id, token, `checkpoint = $4::jsonb`, [JSON.stringify(checkpoint)]))) throw new LeaseLost();
    run.checkpoint = checkpoint;
  }

  /**
   * One read segment: its pages of the connector's search (full: `search`, delta: `searchChangedSince`
   * from the run's watermark), each COPYed into staging in the transaction that moves the segment's
   * cursor and the run's counters. Answers the run's segments still to go once it is done.
   */
  private async readSegment(run: RunRow, target: TargetDefinition, segment: SegmentRow, token: string): Promise<number | null> {
    const tenantId = run.tenant_id;
    const key: SegmentKey = segment;
    const since = run.mode === 'delta' ? (run.checkpoint?.since ?? null) : null;
    // Pages are COPYed in the transaction that moves the segment's checkpoint: a segment never has rows
    // staged past its cursor, so a segment starting over has nothing to clear.
    const seqBase = (segment.segment + 1) * SEQ_SEGMENT;
    const connector: Connector = this.targets.build(target.row);
    try {
      const options = {
        pageSize: this.config.RECONCILIATION_PAGE_SIZE,
        ...(segment.bounds !== null ? { segment: segment.bounds } : {}),
        ...(segment.cursor ? { cursor: segment.cursor } : {}),
      };
      const pages: AsyncIterable<SearchPage> = run.mode === 'delta' ? connector.searchChangedSince('account', since, options) : connector.search('account', options);
      let pageNumber = segment.pages;
      let watermark = segment.watermark ?? since;
      let skipped = segment.skipped_accounts;
      let last = false;
      let left: number | null = null;
      for await (const page of pages) {
        pageNumber += 1;
        const rows: CopyValue[][] = [];
        page.objects.forEach((object, i) => {
          if (object.uid.length > MAX_UID) return void (skipped += 1);
          const modified = object.modifiedAt && Number.isFinite(Date.parse(object.modifiedAt)) ? object.modifiedAt : null;
          rows.push([run.id, seqBase + pageNumber * SEQ_PAGE + i, object.uid, { json: object.attributes }, object.enabled ?? null, modified]);
        });
        if (page.watermark) watermark = page.watermark;
        last = page.nextCursor === null;
        await this.db.transaction(tenantId, async (tx) => {
          await copyRows(tx, 'staged', rows);
          // The run's row first (its lock holds a pause off until the commit), then the segment's checkpoint.
          if (!(await this.segments.countPage(tx, run.id, rows.length, page.total ?? null))) throw new LeaseLost();
          if (last && (left = await this.segments.segmentDone(tx, run.id)) === null) throw new LeaseLost();
          if (!(await this.segments.step(tx, key, token, { cursor: page.nextCursor, pages: pageNumber, accounts: rows.length, skipped, watermark, done: last }))) throw new LeaseLost();
        });
        if (last) break;
      }
      if (!last) {
        // A search that ended without a last page marker (no pages at all): the segment is done all the same.
        await this.db.transaction(tenantId, async (tx) => {
          if (pageNumber === 0 && !(await this.segments.countPage(tx, run.id, 0, null))) throw new LeaseLost();
          if ((left = await this.segments.segmentDone(tx, run.id)) === null) throw new LeaseLost();
          if (!(await this.segments.step(tx, key, token, { cursor: null, pages: pageNumber, accounts: 0, skipped, watermark, done: true }))) throw new LeaseLost();
        });
      }
      return left;
    } finally {
      await connector.close().catch(() => undefined);
    }
  }

  /** One identity id range of a full run's expected side, staged whole (again, after a takeover); answers the segments still to go. */
  private async expectSegment(run: RunRow, target: TargetDefinition, segment: SegmentRow, token: string): Promise<number | null> {
    const tenantId = run.tenant_id;
    const key: SegmentKey = segment;
    const [after, upTo] = (segment.bounds ?? '').split('..');
    const held = async (tx?: TenantScoped) => {
      if (!(await this.segments.beat(tx ?? this.db.statements(tenantId), key, token))) throw new LeaseLost();
    };
    await this.db.transaction(tenantId, async (tx) => {
      await this.segments.clearExpected(tx, run.id, after, upTo);
      await held(tx);
    });
    const staged = await this.expected.stage(run, target, held, { after, upTo });
    let left: number | null = null;
    await this.db.transaction(tenantId, async (tx) => {
      if ((left = await this.segments.segmentDone(tx, run.id)) === null) throw new LeaseLost();
      if (!(await this.segments.step(tx, key, token, { cursor: null, pages: 0, accounts: staged, skipped: 0, watermark: null, done: true }))) throw new LeaseLost();
    });
    return left;
  }

  private async phase(run: RunRow, token: string, phase: string): Promise<void> {
    if (!(await this.runs.advance(this.db.statements(run.tenant_id), run.id, token, `phase = $4, phase_started_at = now()`, [phase]))) throw new LeaseLost();
  }

  private async held(run: RunRow, token: string): Promise<void> {
    if (!(await this.runs.advance(this.db.statements(run.tenant_id), run.id, token, 'api_calls_made = api_calls_made'))) throw new LeaseLost();
  }

  private async guardOrComplete(run: RunRow, token: string): Promise<void> {
    const tenantId = run.tenant_id;
    const guarded = await this.db.transaction(tenantId, async (tx) => {
      const current = (await this.runs.find(tx, run.id))!;
      // A dry run remediates nothing, so nothing needs guarding; an approved run, or one whose guard
      // passed before it stopped while remediating, was guarded already.
      if (!run.dry_run && !['approved', 'passed'].includes(String(current.guard?.decision))) {
        const settings = await this.settings.find(tx, run.connector_id);
        const threshold = run.delete_threshold_percent ?? settings?.delete_threshold_percent ?? DEFAULT_DELETE_THRESHOLD_PERCENT;
        const counts = await destructiveCounts(tx, run.id, run.connector_id);
        const destructive = counts.would_delete + counts.would_inactivate;
        const percent = counts.linked_accounts > 0 ? (100 * destructive) / counts.linked_accounts : destructive > 0 ? 100 : 0;
        const emptyTarget = run.mode === 'full' && current.accounts_processed === 0 && counts.linked_accounts > 0;
        const reason = emptyTarget
          ? `the target returned no accounts while ${counts.linked_accounts} accounts are linked`
          : percent > threshold
            ? `the default actions would delete ${counts.would_delete} and inactivate ${counts.would_inactivate} of ${counts.linked_accounts} linked accounts (${percent.toFixed(1)}% > ${threshold}%)`
            : null;
        const guard = { ...counts, threshold_percent: threshold, percent: Math.round(percent * 100) / 100, empty_target: emptyTarget, decision: reason ? 'awaiting_approval' : 'passed' };
        if (reason) {
          const paused = await this.runs.advance(tx, run.id, token, `status = 'paused', phase = 'awaiting_approval', phase_started_at = now(), pause_reason = $4, guard = $5::jsonb, lease_token = NULL`, [reason, JSON.stringify(guard)]);
          if (!paused) throw new LeaseLost();
          return false;
        }
        await this.runs.advance(tx, run.id, token, `guard = $4::jsonb`, [JSON.stringify(guard)]);
      }
      return true;
    });
    if (!guarded) return;
    if (!run.dry_run) {
      // remediating: each discrepancy's default action (remediation/remediation.service.ts), batch by batch, fenced on the lease.
      await this.phase(run, token, 'remediating');
      await this.remediation.remediateRun(run, async (tx) => {
        if (!(await this.runs.advance(tx, run.id, token, 'api_calls_made = api_calls_made'))) throw new LeaseLost();
      });
    }
    await this.db.transaction(tenantId, async (tx) => {
      const current = (await this.runs.find(tx, run.id))!;
      const watermark = await this.watermarkOf(tx, current);
      const done = await this.runs.advance(
        tx,
        run.id,
        token,
        `status = 'completed', phase = 'done', phase_started_at = now(), completed_at = now(), duration_seconds = extract(epoch FROM now() - started_at), watermark = $4, lease_token = NULL, pause_reason = NULL`,
        [watermark],
      );
      if (!done) throw new LeaseLost();
      await dropStaging(tx, run.id);
      await announceRunFinished(tx, this.runs, run.id);
    });
  }

  /**
   * Where the next delta starts: a delta's newest page watermark; for a full run, the newest
   * modification time among the accounts it read (the connector's delta overlap covers late commits).
   */
  private async watermarkOf(tx: Parameters<typeof dropStaging>[0], run: RunRow): Promise<string | null> {
    if (run.mode === 'delta') return run.checkpoint?.watermark ?? null;
    // In microseconds, as targets stamp them: milliseconds would make the next delta read again every row of that millisecond.
    const row = await tx.one<{ newest: string | null }>(
      `SELECT to_char(max(modified_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS newest FROM reconciliation_staged_accounts WHERE tenant_id = $1 AND run_id = $2`,
      [run.id],
    );
    return row?.newest ?? run.checkpoint?.watermark ?? null;
  }
}
