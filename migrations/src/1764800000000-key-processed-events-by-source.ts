import { MigrationInterface, QueryRunner } from 'typeorm';
import { execute } from './support/sql';

/**
 * CloudEvents ids are only unique per `source`: consumers record an applied event by (consumer, source,
 * id), so two systems that happen to use the same id are both applied. Rows recorded before this
 * migration keep source '' (they only de-duplicate redeliveries of events applied before the upgrade).
 */
export class KeyProcessedEventsBySource1764800000000 implements MigrationInterface {
  name = 'KeyProcessedEventsBySource1764800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      `ALTER TABLE processed_events ADD COLUMN source VARCHAR(1024) NOT NULL DEFAULT ''`,
      'ALTER TABLE processed_events DROP CONSTRAINT processed_events_pkey',
      'ALTER TABLE processed_events ADD CONSTRAINT processed_events_pkey PRIMARY KEY (consumer, source, event_id)',
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      'ALTER TABLE processed_events DROP CONSTRAINT processed_events_pkey',
      // The same id from two sources becomes one record again: keep one of them.
      `DELETE FROM processed_events p USING processed_events q
        WHERE p.consumer = q.consumer AND p.event_id = q.event_id AND p.source > q.source`,
      'ALTER TABLE processed_events DROP COLUMN source',
      'ALTER TABLE processed_events ADD CONSTRAINT processed_events_pkey PRIMARY KEY (consumer, event_id)',
    ]);
  }
}
