import { MigrationInterface, QueryRunner } from 'typeorm';
import { execute } from './support/sql';

/**
 * What the provisioning queue needs beside seed 002's ProvisioningOperation to run operations with
 * the database as the truth:
 *
 *  - `account_key`: the account an operation is about (the identity id, or the target uid of an
 *    operator's operation without identity): two operations with the same connector and key never run
 *    at once, and the later waits for the earlier;
 *  - `next_attempt_at`: when a `failed` operation's automatic retry is due (NULL: none is); the sweep
 *    re-enqueues due retries whose job Redis lost;
 *  - `started_at`: when the current attempt started (an `in_progress` operation older than its limit was
 *    abandoned by a dead process and is taken back by the sweep).
 */
export class AddOperationScheduling1765100000000 implements MigrationInterface {
  name = 'AddOperationScheduling1765100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      `ALTER TABLE provisioning_operations
         ADD COLUMN account_key VARCHAR(500),
         ADD COLUMN next_attempt_at TIMESTAMP WITH TIME ZONE,
         ADD COLUMN started_at TIMESTAMP WITH TIME ZONE`,
      // Per-account ordering: the open operations of one account, oldest first.
      `CREATE INDEX idx_operations_account_open ON provisioning_operations(connector_id, account_key, created_at)
         WHERE status IN ('pending', 'in_progress', 'failed', 'awaiting_system')`,
      // The sweep: open operations of every tenant by age.
      `CREATE INDEX idx_operations_open_updated ON provisioning_operations(status, updated_at)
         WHERE status IN ('pending', 'in_progress', 'failed', 'awaiting_system')`,
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      'DROP INDEX idx_operations_open_updated',
      'DROP INDEX idx_operations_account_open',
      'ALTER TABLE provisioning_operations DROP COLUMN started_at, DROP COLUMN next_attempt_at, DROP COLUMN account_key',
    ]);
  }
}
