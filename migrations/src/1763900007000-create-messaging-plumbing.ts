import { MigrationInterface, QueryRunner } from 'typeorm';
import { execute } from './support/sql';

/**
 * The transactional outbox (rows written in the business transaction, relayed to Kafka by
 * libs/platform's OutboxRelay, which claims rows with a lease and records the topic's end offsets
 * before a first send) and the idempotency record of consumers (`processed_events`).
 */
export class CreateMessagingPlumbing1763900007000 implements MigrationInterface {
  name = 'CreateMessagingPlumbing1763900007000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      `CREATE TABLE outbox (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        seq BIGINT GENERATED ALWAYS AS IDENTITY,
        tenant_id UUID,
        topic VARCHAR(255) NOT NULL,
        message_key VARCHAR(500) NOT NULL,
        event_type VARCHAR(255) NOT NULL,
        payload JSONB NOT NULL,
        headers JSONB NOT NULL DEFAULT '{}'::jsonb,
        created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        published_at TIMESTAMP WITH TIME ZONE,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        claimed_by VARCHAR(100),
        claimed_until TIMESTAMP WITH TIME ZONE,
        probe_offsets JSONB
      )`,
      // The relay publishes in insertion order: rows of one transaction share created_at, not seq.
      `CREATE INDEX idx_outbox_unpublished ON outbox(seq) WHERE published_at IS NULL`,
      // Retention: published rows are deleted after a while.
      `CREATE INDEX idx_outbox_published ON outbox(published_at) WHERE published_at IS NOT NULL`,

      `CREATE TABLE processed_events (
        consumer VARCHAR(255) NOT NULL,
        event_id VARCHAR(255) NOT NULL,
        processed_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        PRIMARY KEY (consumer, event_id)
      )`,
      `CREATE INDEX idx_processed_events_processed_at ON processed_events(processed_at)`,
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, ['DROP TABLE processed_events', 'DROP TABLE outbox']);
  }
}
