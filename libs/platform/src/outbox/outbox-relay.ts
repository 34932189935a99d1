import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, QueryRunner } from 'typeorm';
import { Metrics } from '../metrics/metrics';
import { EVENT_ID_HEADER, KafkaService } from '../kafka/kafka.service';
import { APP_CONFIG } from '../tokens';

export interface OutboxSettings {
  OUTBOX_POLL_INTERVAL_MS: number;
  OUTBOX_BATCH_SIZE: number;
  OUTBOX_LEASE_MS: number;
}

interface ClaimedRow {
  /** The event's id (the outbox row is keyed by it). */
  id: string;
  topic: string;
  message_key: string;
  /** The CloudEvent as JSON text, sent as it is. */
  payload: string;
  /** The offsets recorded before an earlier claim's send; read back only for rows claimed before. */
  probe_offsets: Record<string, Record<string, string>> | null;
  has_probe_offsets: boolean;
  /** Claims so far, this one included. */
  attempts: number;
  /** bigint, as a string. */
  seq: string;
}

/** Any stable 32-bit number: with the schema, the advisory lock that makes one relay the leader across replicas. */
const RELAY_LOCK_KEY = 4_242_001;
const RETENTION = '24 hours';
/**
 * Payload bytes one produce request carries at most: the broker refuses a record batch over its
 * message.max.bytes (1 MB by default), so a batch of large events goes out in several requests, in order.
 */
const MAX_SEND_BYTES = 900_000;

/**
 * Publishes outbox rows to Kafka, each exactly once, also when a relay dies between publishing and
 * marking. How:
 *  1. A row is claimed with a lease (`claimed_until`); a dead relay's rows are taken over after it.
 *  2. Before a row is first sent, the end offsets of its topic are recorded in `probe_offsets`.
 *  3. After sending, the row is marked `published_at`.
 * A claimed row that has `probe_offsets` but no `published_at` may or may not be on the topic: the relay
 * reads the topic from the recorded offsets and only sends the rows it does not find there.
 * One relay leads at a time (PostgreSQL advisory lock), which keeps per-key order across replicas.
 * While busy it pipelines: the next batch is claimed while the current one is on its way to Kafka, and
 * a sent batch is marked while the next one is sent. Sends stay one at a time, in `seq` order.
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(OutboxRelay.name);
  private readonly relayId = randomUUID();
  private running = false;
  private loop?: Promise<void>;
  private lockRunner?: QueryRunner;
  private wake?: () => void;
  private nudged = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly kafka: KafkaService,
    private readonly metrics: Metrics,
    @Inject(APP_CONFIG) private readonly settings: OutboxSettings,
  ) {}

  onApplicationBootstrap(): void {
    this.running = true;
    this.loop = this.run();
  }

  async onModuleDestroy(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await this.lockRunner?.release().catch(() => undefined);
  }

  /**
   * Rows were just committed (a scheduler firing thousands of runs on the minute): look now rather than
   * at the next poll. A nudge while a pass is under way makes the next sleep return at once.
   */
  nudge(): void {
    if (this.wake) this.wake();
    else this.nudged = true;
  }

  /** Relays until nothing is left; for tests and for draining on demand. Returns rows published. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.pump();
      total += n;
      if (n === 0) return total;
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        if (await this.lead()) await this.pump({ untilShutdown: true });
      } catch (error) {
        this.logger.error({ message: 'outbox relay pass failed; retrying', error: (error as Error).message });
        await this.lockRunner?.release().catch(() => undefined);
        this.lockRunner = undefined;
      }
      // pump() returns once a claim came back short (or failed): wait for more.
      await this.sleep(this.settings.OUTBOX_POLL_INTERVAL_MS);
    }
  }

  private async lead(): Promise<boolean> {
    if (this.lockRunner) return true;
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    // Keyed by schema too: deployments (and test suites) sharing a database in different schemas each
    // elect their own relay instead of waiting on one another's.
    const [{ locked }] = await runner.query('SELECT pg_try_advisory_lock($1, hashtext(current_schema())) AS locked', [RELAY_LOCK_KEY]);
    if (!locked) {
      await runner.release();
      await this.sleep(1_000); // a follower checks for leadership now and then
      return false;
    }
    this.lockRunner = runner;
    this.logger.log({ message: 'leading the outbox relay', relay: this.relayId });
    return true;
  }

  /**
   * Claims, sends and marks batches until a claim comes back short; returns the rows published. The next
   * batch is claimed while the current one is sent, and a sent batch is marked while the next is sent.
   * With `untilShutdown`, it also stops after the batch in hand once the service is shutting down (the
   * batch claimed ahead goes back), so a backlog does not hold the shutdown.
   */
  async pump({ untilShutdown = false } = {}): Promise<number> {
    const size = this.settings.OUTBOX_BATCH_SIZE;
    let total = 0;
    let batch = await this.claim();
    let marking: Promise<void> = Promise.resolve();
    try {
      while (batch.length > 0) {
        const sending = this.prepare(batch).then((toSend) => this.send(toSend));
        const claiming = batch.length < size ? Promise.resolve([]) : this.claim();
        const [sent, claimed] = await Promise.allSettled([sending, claiming]);
        if (sent.status === 'rejected') {
          // This batch stays claimed (in doubt: taken over after the lease). The next one was never sent:
          // it goes back at once.
          if (claimed.status === 'fulfilled') await this.release(claimed.value).catch(() => undefined);
          throw sent.reason;
        }
        await marking;
        marking = this.markPublished(batch.map((r) => r.id));
        marking.catch(() => undefined); // awaited (and thrown) below; not an unhandled rejection meanwhile
        total += batch.length;
        if (claimed.status === 'rejected') throw claimed.reason;
        batch = claimed.value;
        if (untilShutdown && !this.running) {
          await this.release(batch);
          break;
        }
      }
    } finally {
      await marking;
    }
    if (total === 0) await this.housekeeping();
    return total;
  }

  /** Claims the next batch in `seq` order, leased to this relay. */
  private async claim(): Promise<ClaimedRow[]> {
    // The end offsets of the topics seen last time are fetched BEFORE the claim and recorded by it (an
    // earlier offset is a safe start for the probe), saving a write per batch. Rows of other topics, and
    // every row when idle, get theirs recorded separately before the send (`prepare`).
    const prefetched = await this.prefetchOffsets();
    // RETURNING does not keep the subquery's order; insertion order (`seq`) is what per-key ordering needs.
    // Recorded offsets are only read back for rows claimed before (in doubt); for the others, whether
    // the claim recorded some is enough.
    const rows: ClaimedRow[] = await this.dataSource.query(
      `WITH claimed AS (
         UPDATE outbox o
            SET attempts = o.attempts + 1, claimed_by = $1, claimed_until = now() + make_interval(secs => $2::double precision / 1000),
                probe_offsets = COALESCE(o.probe_offsets, CASE WHEN $4::jsonb ? o.topic THEN jsonb_build_object(o.topic, $4::jsonb -> o.topic) END)
           FROM (SELECT id FROM outbox
                  WHERE published_at IS NULL AND (claimed_until IS NULL OR claimed_until < now())
                  ORDER BY seq
                  LIMIT $3
                  FOR UPDATE SKIP LOCKED) due
          WHERE o.id = due.id
      RETURNING o.id, o.seq, o.topic, o.message_key, o.payload::text AS payload, o.attempts,
                CASE WHEN o.attempts > 1 THEN o.probe_offsets END AS probe_offsets, o.probe_offsets IS NOT NULL AS has_probe_offsets)
       SELECT * FROM claimed ORDER BY seq`,
      [this.relayId, this.settings.OUTBOX_LEASE_MS, this.settings.OUTBOX_BATCH_SIZE, JSON.stringify(prefetched)],
    );
    this.busyTopics = new Set(rows.map((r) => r.topic));
    return rows;
  }

  /**
   * The rows of a claimed batch to send: those an earlier, crashed relay already published are left out;
   * the others get their topic's offsets recorded if the claim did not record them.
   */
  private async prepare(rows: ClaimedRow[]): Promise<ClaimedRow[]> {
    // Claimed before, with offsets recorded: an earlier relay may have sent it. (Offsets are always recorded
    // before a send, so a row claimed before without offsets was never sent.)
    const inDoubt = rows.filter((r) => r.attempts > 1 && r.has_probe_offsets);
    const alreadyOnTopic = inDoubt.length ? await this.findPublished(inDoubt) : new Set<string>();
    if (alreadyOnTopic.size) this.logger.warn({ message: 'outbox rows found already published after a relay crash', count: alreadyOnTopic.size });
    const toSend = rows.filter((r) => !alreadyOnTopic.has(r.id));
    const fresh = toSend.filter((r) => !r.has_probe_offsets);
    if (fresh.length) await this.recordProbeOffsets(fresh);
    return toSend;
  }

  private async send(rows: ClaimedRow[]): Promise<void> {
    let start = 0;
    let bytes = 0;
    for (let i = 0; i < rows.length; i++) {
      const size = Buffer.byteLength(rows[i].payload);
      if (i > start && bytes + size > MAX_SEND_BYTES) {
        await this.publish(rows.slice(start, i));
        start = i;
        bytes = 0;
      }
      bytes += size;
    }
    await this.publish(rows.slice(start));
  }

  private async publish(rows: ClaimedRow[]): Promise<void> {
    await this.kafka.publishSerialized(rows.map((r) => ({ topic: r.topic, key: r.message_key, id: r.id, json: r.payload })));
    for (const r of rows) this.metrics.outboxPublished.inc({ topic: r.topic });
  }

  /**
   * Hands back a claimed batch that was never sent: claimable again at once, as if never claimed (the
   * offsets this claim recorded go; those of an earlier claim stay, as that one may have sent).
   */
  private async release(rows: ClaimedRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.dataSource.query(
      `UPDATE outbox SET claimed_until = NULL, attempts = attempts - 1, probe_offsets = CASE WHEN attempts = 1 THEN NULL ELSE probe_offsets END
        WHERE id = ANY($1::uuid[]) AND claimed_by = $2 AND published_at IS NULL`,
      [rows.map((r) => r.id), this.relayId],
    );
  }

  private async markPublished(ids: string[]): Promise<void> {
    await this.dataSource.query('UPDATE outbox SET published_at = now(), claimed_until = NULL WHERE id = ANY($1::uuid[])', [ids]);
  }

  private busyTopics = new Set<string>();

  private async prefetchOffsets(): Promise<Record<string, Record<string, string>>> {
    const topics = [...this.busyTopics];
    const ends = await Promise.all(topics.map((topic) => this.kafka.admin.fetchTopicOffsets(this.kafka.topic(topic))));
    return Object.fromEntries(topics.map((topic, i) => [topic, Object.fromEntries(ends[i].map((p) => [String(p.partition), p.high]))]));
  }

  private async recordProbeOffsets(rows: ClaimedRow[]): Promise<void> {
    const topics = [...new Set(rows.map((r) => r.topic))];
    const offsets: Record<string, Record<string, string>> = {};
    for (const topic of topics) {
      const ends = await this.kafka.admin.fetchTopicOffsets(this.kafka.topic(topic));
      offsets[topic] = Object.fromEntries(ends.map((p) => [String(p.partition), p.high]));
    }
    for (const topic of topics) {
      const ids = rows.filter((r) => r.topic === topic).map((r) => r.id);
      await this.dataSource.query('UPDATE outbox SET probe_offsets = $2::jsonb WHERE id = ANY($1::uuid[])', [ids, JSON.stringify({ [topic]: offsets[topic] })]);
      for (const r of rows) if (r.topic === topic) r.has_probe_offsets = true;
    }
  }

  /** Reads each topic from the offsets recorded before the first send, collecting the event ids found. */
  private async findPublished(rows: ClaimedRow[]): Promise<Set<string>> {
    const found = new Set<string>();
    const byTopic = new Map<string, Record<string, string>>();
    for (const r of rows) {
      const recorded = r.probe_offsets![r.topic];
      const current = byTopic.get(r.topic) ?? {};
      for (const [partition, offset] of Object.entries(recorded)) {
        if (current[partition] === undefined || BigInt(offset) < BigInt(current[partition])) current[partition] = offset;
      }
      byTopic.set(r.topic, current);
    }
    for (const [topic, from] of byTopic) {
      for (const id of await this.readEventIds(this.kafka.topic(topic), from)) found.add(id);
    }
    return found;
  }

  private async readEventIds(topic: string, from: Record<string, string>): Promise<Set<string>> {
    const ends = await this.kafka.admin.fetchTopicOffsets(topic);
    const pending = new Map<number, bigint>();
    for (const end of ends) {
      const start = BigInt(from[String(end.partition)] ?? '0');
      if (BigInt(end.high) > start) pending.set(end.partition, BigInt(end.high));
    }
    const ids = new Set<string>();
    if (pending.size === 0) return ids;

    const groupId = `provisio-outbox-probe-${randomUUID()}`;
    const consumer = this.kafka.kafka.consumer({ groupId, allowAutoTopicCreation: false });
    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      let finish!: () => void;
      const done = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`outbox probe of ${topic} did not finish in 30 s`)), 30_000);
        finish = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      // Reading from an earlier offset than recorded is harmless: it only finds more published ids.
      await consumer.run({
          eachMessage: async ({ partition, message }) => {
            const id = message.headers?.[EVENT_ID_HEADER]?.toString();
            if (id) ids.add(id);
            const end = pending.get(partition);
            if (end !== undefined && BigInt(message.offset) + 1n >= end) pending.delete(partition);
            if (pending.size === 0) finish();
          },
      });
      for (const partition of pending.keys()) consumer.seek({ topic, partition, offset: from[String(partition)] ?? '0' });
      await done;
    } finally {
      await consumer.disconnect().catch(() => undefined);
      await this.kafka.admin.deleteGroups([groupId]).catch(() => undefined);
    }
    return ids;
  }

  private lastHousekeeping = 0;

  /** Every 10 s while idle: the pending gauge, and published rows past retention deleted. */
  private async housekeeping(): Promise<void> {
    if (Date.now() - this.lastHousekeeping < 10_000) return;
    this.lastHousekeeping = Date.now();
    const [{ pending }] = await this.dataSource.query('SELECT count(*)::int AS pending FROM outbox WHERE published_at IS NULL');
    this.metrics.outboxPending.set(pending);
    await this.dataSource.query(`DELETE FROM outbox WHERE published_at < now() - interval '${RETENTION}'`);
  }

  /** Waits `ms`, or until `nudge()` or shutdown wakes it (a nudge that came while busy ends it at once). */
  private sleep(ms: number): Promise<void> {
    if (this.nudged) {
      this.nudged = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}
