import { MigrationInterface, QueryRunner } from 'typeorm';
import { execute } from './support/sql';

/**
 * The registry's execution feed (`GET /executions/feed`, `GET /executions/stream`, `provisio executions
 * tail`) reads a tenant's finished executions in keyset order, (completed_at, id) after a cursor: this
 * index answers that without scanning the tenant's history. Dry runs are never in the feed.
 */
export class IndexExecutionsByCompletion1765460000000 implements MigrationInterface {
  name = 'IndexExecutionsByCompletion1765460000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [`CREATE INDEX idx_executions_tenant_completed ON script_executions(tenant_id, completed_at, id) WHERE completed_at IS NOT NULL AND dry_run = false`]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, ['DROP INDEX IF EXISTS idx_executions_tenant_completed']);
  }
}
