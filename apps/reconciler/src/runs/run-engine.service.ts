import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Job as BullJob, Queue as BullQueue, Worker } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { Connector, isConnectorError, SearchPage } from '@provisio/connectors';
import { Job, Queue } from '@provisio/contracts';
import { TenantDatabase } from '@provisio/persistence';
import { APP_CONFIG, RedisService } from '@provisio/platform';
import { classify, destructiveCounts, dropStaging } from '../classification/classifier';
import { copyRows, CopyValue } from '../classification/copy-rows';
import { correlationRulesSchema, defaultCorrelationRules } from '../classification/correlation-rules';
import { ExpectedAccounts } from '../classification/expected-accounts';
import { TargetConnectors, TargetDefinition } from '../common/target-connectors';
import { ConnectorSettingsRepository } from '../connector-settings/connector-settings.repository';
import type { AppConfig } from '../config';
import { announceRunFinished } from './run-finished';
import { RunRow, RunsRepository } from './runs.repository';

export interface RunReconciliationJob {
  tenant_id: string;
  run_id: string;
}

/** The run is no longer this worker's (paused, cancelled, or taken back by the sweep): stop, roll back the step. */
class LeaseLost extends Error {}

const MAX_UID = 500;
const SWEEP_BATCH = 100;
export const DEFAULT_DELETE_THRESHOLD_PERCENT = 20;

/**
 * Works reconciliation runs: BullMQ on Redis carries only run ids (job id = run id, so enqueueing twice
 * is a no-op), PostgreSQL holds the truth. A run's phases (docs/reconciliation.md):
 *
 *   reading      the connector's pages, each COPYed into staging in the transaction that moves the
 *                checkpoint (the next page's cursor): a resume reads at most one page again;
 *   expecting    expected attributes of covered identities, in batches (mapping in Node, COPY);
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
  readonly queue: BullQueue<RunReconciliationJob>;
  private worker?: Worker<RunReconciliationJob>;
  private sweepTimer?: NodeJS.Timeout;
  private sweeping = false;
  /** Live rates of runs this process works, for progress (accounts per second of the reading phase). */
  readonly live = new Map<string, { since: number; processedAtStart: number }>();

  constructor(
    private readonly db: TenantDatabase,
    private readonly runs: RunsRepository,
    private readonly settings: ConnectorSettingsRepository,
    private readonly targets: TargetConnectors,
    private readonly expected: ExpectedAccounts,
    private readonly redis: RedisService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.queue = new BullQueue<RunReconciliationJob>(Queue.Reconciliation, { connection: redis.connectionOptions(), prefix: redis.key('bull') });
    this.queue.on('error', (error) => this.logger.warn({ message: 'reconciliation queue connection error', error: error.message }));
  }

  onApplicationBootstrap(): void {
    this.worker = new Worker<RunReconciliationJob>(Queue.Reconciliation, (job) => this.process(job), {
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
    const existing = await this.queue.getJob(run.id);
    if (existing) {
      const state = await existing.getState();
      if (state === 'active' || state === 'waiting' || state === 'delayed' || state === 'prioritized') return;
      await existing.remove().catch(() => undefined);
    }
    await this.queue.add(Job.RunReconciliation, { tenant_id: run.tenant_id, run_id: run.id }, { jobId: run.id, removeOnComplete: true, removeOnFail: true, attempts: 1 });
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
      return stale.length;
    } catch (error) {
      this.logger.warn({ message: 'reconciliation sweep failed', error: (error as Error).message });
      return 0;
    } finally {
      this.sweeping = false;
    }
  }

  private async process(job: BullJob<RunReconciliationJob>): Promise<void> {
    const { tenant_id: tenantId, run_id: runId } = job.data;
    const token = randomUUID();
    const run = await this.runs.claim(this.db.statements(tenantId), runId, token);
    if (!run) return; // paused, cancelled or ended meanwhile
    const beat = setInterval(() => void this.runs.advance(this.db.statements(tenantId), runId, token, 'api_calls_made = api_calls_made').catch(() => undefined), 10_000);
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
      const message = isConnectorError(error) ? `${error.code}: ${error.message}` : (error as Error).message;
      this.logger.warn({ message: 'reconciliation run failed', run_id: runId, error: message });
      await this.db.transaction(tenantId, async (tx) => {
        const failed = await this.runs.advance(
          tx,
          runId,
          token,
          `status = 'failed', error_message = $4, completed_at = now(), duration_seconds = extract(epoch FROM now() - started_at), lease_token = NULL`,
          [message.slice(0, 10_000)],
        );
        if (failed) {
          await dropStaging(tx, runId);
          await announceRunFinished(tx, this.runs, runId);
        }
      });
    } finally {
      clearInterval(beat);
      this.live.delete(runId);
    }
  }

  private async work(run: RunRow, token: string): Promise<void> {
    const tenantId = run.tenant_id;
    const target = await this.targets.definition(this.db.read(tenantId), run.connector_id);
    const expect = async () => {
      await this.db.transaction(tenantId, (tx) => tx.execute('DELETE FROM reconciliation_expected_accounts WHERE tenant_id = $1 AND run_id = $2', [run.id]));
      await this.expected.stage(run, target, () => this.held(run, token));
    };
    if (run.phase === 'reading' && run.mode === 'full') {
      // A full run's expected side does not depend on what the target returns: computed while the pages are read.
      await Promise.all([this.read(run, target, token), expect()]);
      await this.phase(run, token, 'classifying');
    } else {
      if (run.phase === 'reading') await this.read(run, target, token);
      if (['reading', 'expecting'].includes(run.phase)) {
        await this.phase(run, token, 'expecting');
        await expect();
      }
    }
    if (['reading', 'expecting', 'classifying'].includes(run.phase)) {
      await this.phase(run, token, 'classifying');
      const settings = await this.settings.find(this.db.read(tenantId), run.connector_id);
      const own = correlationRulesSchema.safeParse(settings?.correlation_rules ?? []);
      const rules = own.success && own.data.length ? own.data : defaultCorrelationRules(target.mapping);
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

  private async read(run: RunRow, target: TargetDefinition, token: string): Promise<void> {
    const tenantId = run.tenant_id;
    const checkpoint = run.checkpoint ?? {};
    if (checkpoint.reading_done) return;
    const since = run.mode === 'delta' ? (checkpoint.since !== undefined ? checkpoint.since : await this.runs.lastWatermark(this.db.read(tenantId), run.connector_id)) : null;
    if (checkpoint.cursor == null && !checkpoint.pages) {
      // A fresh start: anything a crashed attempt staged before its first checkpoint goes.
      await this.db.transaction(tenantId, (tx) => tx.execute('DELETE FROM reconciliation_staged_accounts WHERE tenant_id = $1 AND run_id = $2', [run.id]));
    }
    this.live.set(run.id, { since: Date.now(), processedAtStart: run.accounts_processed });
    const connector: Connector = this.targets.build(target.row);
    try {
      const options = { pageSize: this.config.RECONCILIATION_PAGE_SIZE, ...(checkpoint.cursor ? { cursor: checkpoint.cursor } : {}) };
      const pages: AsyncIterable<SearchPage> = run.mode === 'delta' ? connector.searchChangedSince('account', since, options) : connector.search('account', options);
      let pageNumber = checkpoint.pages ?? 0;
      let watermark = checkpoint.watermark ?? since ?? null;
      let skipped = checkpoint.skipped_accounts ?? 0;
      let last = false;
      for await (const page of pages) {
        pageNumber += 1;
        const rows: CopyValue[][] = [];
        page.objects.forEach((object, i) => {
          if (object.uid.length > MAX_UID) return void (skipped += 1);
          const modified = object.modifiedAt && Number.isFinite(Date.parse(object.modifiedAt)) ? object.modifiedAt : null;
          rows.push([run.id, pageNumber * 1_000_000 + i, object.uid, { json: object.attributes }, object.enabled ?? null, modified]);
        });
        if (page.watermark) watermark = page.watermark;
        last = page.nextCursor === null;
        const next = { cursor: page.nextCursor, pages: pageNumber, reading_done: last, watermark, since, skipped_accounts: skipped };
        await this.db.transaction(tenantId, async (tx) => {
          await copyRows(tx, 'staged', rows);
          const moved = await this.runs.advance(
            tx,
            run.id,
            token,
            `checkpoint = $4::jsonb, accounts_processed = accounts_processed + $5, api_calls_made = api_calls_made + 1, accounts_total = COALESCE($6, accounts_total)`,
            [JSON.stringify(next), rows.length, page.total ?? null],
          );
          if (!moved) throw new LeaseLost();
        });
        if (last) break;
      }
      if (!last) {
        // A search that ended without a last page marker (no pages at all): reading is done all the same.
        const next = { cursor: null, pages: pageNumber, reading_done: true, watermark, since, skipped_accounts: skipped };
        if (!(await this.runs.advance(this.db.statements(tenantId), run.id, token, `checkpoint = $4::jsonb, api_calls_made = api_calls_made + $5`, [JSON.stringify(next), pageNumber === 0 ? 1 : 0]))) throw new LeaseLost();
      }
    } finally {
      await connector.close().catch(() => undefined);
    }
  }

  private async phase(run: RunRow, token: string, phase: string): Promise<void> {
    if (!(await this.runs.advance(this.db.statements(run.tenant_id), run.id, token, `phase = $4, phase_started_at = now()`, [phase]))) throw new LeaseLost();
  }

  private async held(run: RunRow, token: string): Promise<void> {
    if (!(await this.runs.advance(this.db.statements(run.tenant_id), run.id, token, 'api_calls_made = api_calls_made'))) throw new LeaseLost();
  }

  private async guardOrComplete(run: RunRow, token: string): Promise<void> {
    const tenantId = run.tenant_id;
    await this.db.transaction(tenantId, async (tx) => {
      const current = (await this.runs.find(tx, run.id))!;
      // A dry run remediates nothing, so nothing needs guarding; an approved run was guarded already.
      if (!run.dry_run && current.guard?.decision !== 'approved') {
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
          return;
        }
        await this.runs.advance(tx, run.id, token, `guard = $4::jsonb`, [JSON.stringify(guard)]);
      }
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
