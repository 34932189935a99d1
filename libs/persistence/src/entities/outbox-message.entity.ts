import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * The transactional outbox: written in the business transaction (libs/platform OutboxService),
 * published by the OutboxRelay. `id` is the CloudEvent id; `payload` the whole CloudEvent.
 */
@Entity('outbox')
@Index('idx_outbox_unpublished', ['seq'], { where: 'published_at IS NULL' })
@Index('idx_outbox_published', ['published_at'], { where: 'published_at IS NOT NULL' })
export class OutboxMessage {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** Insertion order (rows of one transaction share `created_at`); the relay publishes by it. */
  @Column({ type: 'bigint', generatedIdentity: 'ALWAYS', generated: 'identity', insert: false, update: false })
  seq: string;

  /** No foreign key: platform events may precede (or outlive) a tenant row. */
  @Column({ type: 'uuid', nullable: true })
  tenant_id: string | null;

  /** Topic base name (without the environment prefix). */
  @Column({ type: 'varchar', length: 255 })
  topic: string;

  @Column({ type: 'varchar', length: 500 })
  message_key: string;

  @Column({ type: 'varchar', length: 255 })
  event_type: string;

  @Column({ type: 'jsonb' })
  payload: Record<string, unknown>;

  @Column({ type: 'jsonb', default: {} })
  headers: Record<string, string>;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  created_at: Date;

  @Column({ type: 'timestamptz', nullable: true })
  published_at: Date | null;

  @Column({ type: 'integer', default: 0 })
  attempts: number;

  @Column({ type: 'text', nullable: true })
  last_error: string | null;

  /** The relay holding the lease. */
  @Column({ type: 'varchar', length: 100, nullable: true })
  claimed_by: string | null;

  @Column({ type: 'timestamptz', nullable: true })
  claimed_until: Date | null;

  /** End offsets of the topic's partitions recorded before the first send (crash recovery). */
  @Column({ type: 'jsonb', nullable: true })
  probe_offsets: Record<string, Record<string, string>> | null;
}
