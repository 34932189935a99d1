import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Job as BullJob, Queue as BullQueue, DelayedError, Worker } from 'bullmq';
import { Job, Queue } from '@provisio/contracts';
import { TenantDatabase } from '@provisio/persistence';
import { APP_CONFIG, Batcher, RedisService } from '@provisio/platform';
import type { AppConfig } from '../../config';
import { asConnectorError } from '../../connectors/target-calls';
import { OperationPlanner } from '../operation-planner.service';
import { OperationsRepository } from '../operations.repository';
import { Circuits } from './circuits';
import { ConnectorPool } from './connector-pool';
import { OperationRunner } from './operation-runner.service';

export interface ExecuteOperationJob {
  tenant_id: string;
  operation_id: string;
}

/** How soon an operation held back by an earlier one of its account looks again (the earlier one's end also wakes it). */
const BLOCKED_RECHECK_MS = 1_000;
/** Accounts with held-back operations this process remembers; past it, the rest wait their recheck. */
const HELD_BACK_ACCOUNTS = 100_000;
const SWEEP_BATCH = 5_000;

const accountOf = (connectorId: string, accountKey: string) => `${connectorId}:${accountKey}`;

/** BullMQ priorities run 1 (first) … 2^21; an operation's priority is higher-first around 0. */
export function bullPriority(priority: number): number {
  return Math.min(2_097_152, Math.max(1, 1_000_001 - Math.round(priority)));
}

/**
 * The provisioning queue on BullMQ, with PostgreSQL as the truth. A job carries only the operation's id
 * and tenant, and its job id IS the operation id, so enqueueing twice is a no-op; jobs are removed when
 * they end, so the same operation can be enqueued again later (a retry, a resume).
 *
 *  - A failed operation's retry is the same job moved to BullMQ's delayed set until `next_attempt_at`.
 *  - Operations created by the domain-event consumer, the identities API and operators are enqueued as
 *    soon as their transaction commits (OperationPlanner.committed, or `enqueue`); the announcement on
 *    `provisio.provisioning-operations` enqueues what is still pending of the others, and is the way
 *    back should the process die between the commit and the enqueue.
 *  - An operation held back by an earlier one of its account is delayed briefly; the earlier one's end
 *    promotes it at once (the ends of a batch look up their accounts' next operations in one statement).
 *    Only accounts this process saw hold an operation back are looked up (most operations are the only
 *    one of their account, and the look-up found nothing for them); an operation held back in another
 *    replica runs at its recheck, at most BLOCKED_RECHECK_MS later.
 *  - The sweep re-enqueues what Redis may have lost: pending operations and due retries without a live
 *    job, and attempts abandoned by a dead process (a Redis restart or a kill -9 loses nothing).
 *  - The probe tests the targets of open circuits (and of connectors with `awaiting_system` operations,
 *    after a restart); when one answers, its circuit closes and its operations go back to pending.
 */
@Injectable()
export class OperationQueue implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(OperationQueue.name);
  readonly queue: BullQueue<ExecuteOperationJob>;
  private worker?: Worker<ExecuteOperationJob>;
  private sweepTimer?: NodeJS.Timeout;
  private probeTimer?: NodeJS.Timeout;
  private sweeping = false;
  private probing = false;
  private readonly wakes: Batcher<{ tenantId: string; connectorId: string; accountKey: string }, void>;
  /** `connector:account` of accounts with an operation held back here, until a wake finds none open. */
  private readonly heldBack = new Set<string>();

  constructor(
    private readonly db: TenantDatabase,
    private readonly operations: OperationsRepository,
    private readonly runner: OperationRunner,
    private readonly circuits: Circuits,
    private readonly pool: ConnectorPool,
    private readonly redis: RedisService,
    planner: OperationPlanner,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.queue = new BullQueue<ExecuteOperationJob>(Queue.ProvisioningOperations, { connection: redis.connectionOptions(), prefix: redis.key('bull') });
    this.queue.on('error', (error) => this.logger.warn({ message: 'provisioning queue connection error', error: error.message }));
    this.wakes = new Batcher((items) => this.wakeNext(items), { maxSize: config.PROVISIONING_BATCH_SIZE, maxInFlight: config.PROVISIONING_BATCHES_IN_FLIGHT });
    planner.enqueueWith((operations) => this.enqueue(operations));
  }

  onApplicationBootstrap(): void {
    this.worker = new Worker<ExecuteOperationJob>(Queue.ProvisioningOperations, (job, token) => this.process(job, token), {
      connection: this.redis.connectionOptions(),
      prefix: this.redis.key('bull'),
      concurrency: this.config.PROVISIONING_CONCURRENCY,
      lockDuration: 30_000,
      stalledInterval: 10_000,
      maxStalledCount: 5,
    });
    this.worker.on('error', (error) => this.logger.warn({ message: 'provisioning worker error', error: error.message }));
    this.sweepTimer = setInterval(() => void this.sweep(), this.config.PROVISIONING_SWEEP_INTERVAL_MS);
    this.probeTimer = setInterval(() => void this.probe(), this.config.PROVISIONING_PROBE_INTERVAL_MS);
    void this.sweep();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.sweepTimer);
    clearInterval(this.probeTimer);
    await this.worker?.close();
    await this.queue.close();
  }

  async enqueue(operations: { tenant_id: string; id: string; priority: number }[]): Promise<void> {
    if (operations.length === 0) return;
    await this.queue.addBulk(
      operations.map((op) => ({
        name: Job.ExecuteOperation,
        data: { tenant_id: op.tenant_id, operation_id: op.id },
        opts: { jobId: op.id, priority: bullPriority(op.priority), removeOnComplete: true, removeOnFail: true, attempts: 1 },
      })),
    );
  }

  private async process(job: BullJob<ExecuteOperationJob>, token?: string): Promise<void> {
    const { tenant_id: tenantId, operation_id: operationId } = job.data;
    const outcome = await this.runner.run(tenantId, operationId);
    if (outcome.kind === 'blocked' && this.heldBack.size < HELD_BACK_ACCOUNTS) this.heldBack.add(accountOf(outcome.connectorId, outcome.accountKey));
    if (outcome.kind === 'blocked' || outcome.kind === 'retry') {
      const at = outcome.kind === 'retry' ? outcome.at.getTime() : Date.now() + BLOCKED_RECHECK_MS;
      await job.moveToDelayed(at, token);
      throw new DelayedError();
    }
    const ended = outcome.operation;
    if (ended?.account_key && outcome.status !== 'in_progress' && this.heldBack.has(accountOf(ended.connector_id, ended.account_key))) {
      await this.wakes.submit({ tenantId, connectorId: ended.connector_id, accountKey: ended.account_key });
    }
  }

  /** The next open operation of each account runs now rather than at its next look. */
  private async wakeNext(items: { tenantId: string; connectorId: string; accountKey: string }[]): Promise<void[]> {
    const byTenant = new Map<string, { connector_id: string; account_key: string }[]>();
    for (const item of items) byTenant.set(item.tenantId, [...(byTenant.get(item.tenantId) ?? []), { connector_id: item.connectorId, account_key: item.accountKey }]);
    for (const [tenantId, accounts] of byTenant) {
      const open = await this.operations.firstOpenOnAccounts(this.db.read(tenantId), accounts);
      const stillOpen = new Set(open.map((next) => accountOf(next.connector_id, next.account_key!)));
      for (const account of accounts) if (!stillOpen.has(accountOf(account.connector_id, account.account_key))) this.heldBack.delete(accountOf(account.connector_id, account.account_key));
      for (const next of open) {
        if (next.status !== 'pending') continue;
        const job = await this.queue.getJob(next.id);
        if (!job) await this.enqueue([next]);
        else if (await job.isDelayed()) await job.promote().catch(() => undefined); // it may have started meanwhile
      }
    }
    return items.map(() => undefined);
  }

  /** Re-enqueues open operations without a live job. Answers how many were re-enqueued. */
  async sweep(): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    try {
      const stale = await this.operations.stale(
        this.db.allTenants('provisioning sweep: operations of every tenant the queue may have lost'),
        // Pending for three sweeps without being taken: its job is presumably gone. Shorter would have the
        // sweep look up (in Redis) every operation of a long backlog that is simply waiting its turn.
        3 * this.config.PROVISIONING_SWEEP_INTERVAL_MS,
        this.config.PROVISIONING_ABANDONED_AFTER_MS,
        SWEEP_BATCH,
      );
      const lost = [];
      for (const op of stale) {
        const job = await this.queue.getJob(op.id);
        if (job) {
          const state = await job.getState();
          if (state !== 'completed' && state !== 'failed' && state !== 'unknown') continue; // alive in the queue
          await job.remove().catch(() => undefined);
        }
        lost.push(op);
      }
      await this.enqueue(lost);
      if (lost.length) this.logger.log({ message: 'sweep re-enqueued operations', count: lost.length });
      return lost.length;
    } catch (error) {
      this.logger.warn({ message: 'provisioning sweep failed', error: (error as Error).message });
      return 0;
    } finally {
      this.sweeping = false;
    }
  }

  /** Tests the target of each open circuit (and of connectors whose operations await their target); resumes them when it answers. */
  async probe(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      const awaiting = await this.operations.awaitingConnectors(this.db.allTenants('provisioning probe: connectors of every tenant whose operations await their target'));
      const targets = new Map<string, string>(awaiting.map((a) => [a.connector_id, a.tenant_id]));
      for (const circuit of this.circuits.all()) targets.set(circuit.connectorId, circuit.tenantId);
      for (const [connectorId, tenantId] of targets) await this.probeOne(tenantId, connectorId);
    } catch (error) {
      this.logger.warn({ message: 'provisioning probe failed', error: (error as Error).message });
    } finally {
      this.probing = false;
    }
  }

  private async probeOne(tenantId: string, connectorId: string): Promise<void> {
    let error: string | null = null;
    try {
      const connector = await this.pool.get(tenantId, connectorId);
      const result = await connector.testConnection();
      if (!result.ok) error = `${result.error?.code ?? 'error'}: ${result.error?.message ?? 'the connection test failed'}`;
    } catch (failure) {
      const connectorError = asConnectorError(failure);
      error = `${connectorError.code}: ${connectorError.message}`;
    }
    if (error) {
      if (!this.circuits.isOpen(connectorId)) this.circuits.trip(tenantId, connectorId, error);
      this.circuits.probed(connectorId, error);
      return;
    }
    this.circuits.close(connectorId);
    const resumed = await this.db.transaction(tenantId, (tx) => this.operations.resumeAwaiting(tx, connectorId, 'the target answers again: resumed'));
    if (resumed.length) this.logger.log({ message: 'target answers again; operations resumed', connector_id: connectorId, count: resumed.length });
    await this.enqueue(resumed);
  }
}
