import { MigrationInterface, QueryRunner } from 'typeorm';
import { execute } from './support/sql';

/**
 * The open operations of an account (per-account ordering) are looked up by account first: the claim
 * asks "is an earlier one of this account open?" for every operation it takes, and writes the connector
 * condition so that no index serves it (see OperationsRepository.claimMany). Led by the connector, the
 * index tied with `idx_operations_connector_status` whenever the table had no statistics yet, and the
 * planner took the connector index: every operation of the connector scanned, per operation claimed.
 */
export class IndexOpenOperationsByAccount1765470000000 implements MigrationInterface {
  name = 'IndexOpenOperationsByAccount1765470000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      'DROP INDEX idx_operations_account_open',
      `CREATE INDEX idx_operations_account_open ON provisioning_operations(account_key, connector_id, created_at)
         WHERE status IN ('pending', 'in_progress', 'failed', 'awaiting_system')`,
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      'DROP INDEX idx_operations_account_open',
      `CREATE INDEX idx_operations_account_open ON provisioning_operations(connector_id, account_key, created_at)
         WHERE status IN ('pending', 'in_progress', 'failed', 'awaiting_system')`,
    ]);
  }
}
