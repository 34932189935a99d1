import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** Idempotency of consumers: an event (source and id) applied by a consumer group, recorded with the effect. */
@Entity('processed_events')
@Index('idx_processed_events_processed_at', ['processed_at'])
export class ProcessedEvent {
  /** The consumer group. */
  @PrimaryColumn({ type: 'varchar', length: 255 })
  consumer: string;

  /** The CloudEvents `source`: ids are only unique per source. */
  @PrimaryColumn({ type: 'varchar', length: 1024, default: '' })
  source: string;

  @PrimaryColumn({ type: 'varchar', length: 255 })
  event_id: string;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  processed_at: Date;
}
