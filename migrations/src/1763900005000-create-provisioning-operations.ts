import { MigrationInterface, QueryRunner } from 'typeorm';
import { execute } from './support/sql';

/**
 * Seed 002, provisioning: operations against connectors, their attempts and logs, and conflicts
 * between operations. QueueStatistics is computed from `provisioning_operations` (see
 * docs/data-model.md), not stored. Hook executions point at the operation they ran around.
 */
export class CreateProvisioningOperations1763900005000 implements MigrationInterface {
  name = 'CreateProvisioningOperations1763900005000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      `CREATE TABLE provisioning_operations (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id UUID NOT NULL REFERENCES tenants(id),
        connector_id UUID NOT NULL REFERENCES connectors(id) ON DELETE CASCADE,
        connector_name VARCHAR(255) NOT NULL,
        user_id UUID REFERENCES identities(id) ON DELETE SET NULL,
        operation_type VARCHAR(20) NOT NULL,
        object_class VARCHAR(100) NOT NULL DEFAULT 'account',
        target_uid VARCHAR(500),
        status VARCHAR(30) NOT NULL DEFAULT 'pending',
        priority INTEGER NOT NULL DEFAULT 0,
        retry_count INTEGER NOT NULL DEFAULT 0,
        max_retries INTEGER NOT NULL DEFAULT 3,
        error_message TEXT,
        payload JSONB NOT NULL DEFAULT '{}'::jsonb,
        created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        completed_at TIMESTAMP WITH TIME ZONE,
        resolution_notes TEXT,
        CONSTRAINT ck_provisioning_operations_operation_type CHECK (operation_type IN ('create', 'update', 'delete')),
        CONSTRAINT ck_provisioning_operations_status CHECK (status IN (
          'pending', 'in_progress', 'completed', 'failed', 'dead_letter', 'awaiting_system', 'resolved', 'cancelled')),
        CONSTRAINT ck_provisioning_operations_retries CHECK (retry_count >= 0 AND max_retries >= 0)
      )`,
      // Queue statistics: counts per status of a tenant.
      `CREATE INDEX idx_operations_tenant_status ON provisioning_operations(tenant_id, status)`,
      // The dead-letter queue, newest first.
      `CREATE INDEX idx_operations_dead_letter ON provisioning_operations(tenant_id, updated_at DESC) WHERE status = 'dead_letter'`,
      // What is waiting, most urgent first.
      `CREATE INDEX idx_operations_pending ON provisioning_operations(tenant_id, priority DESC, created_at) WHERE status = 'pending'`,
      `CREATE INDEX idx_operations_tenant_created ON provisioning_operations(tenant_id, created_at DESC)`,
      `CREATE INDEX idx_operations_connector_status ON provisioning_operations(connector_id, status)`,
      `CREATE INDEX idx_operations_user ON provisioning_operations(user_id) WHERE user_id IS NOT NULL`,
      // Conflict detection: other open operations on the same account.
      `CREATE INDEX idx_operations_target ON provisioning_operations(connector_id, object_class, target_uid) WHERE target_uid IS NOT NULL`,

      `CREATE TABLE execution_attempts (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        operation_id UUID NOT NULL REFERENCES provisioning_operations(id) ON DELETE CASCADE,
        tenant_id UUID NOT NULL REFERENCES tenants(id),
        attempt_number INTEGER NOT NULL,
        started_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        completed_at TIMESTAMP WITH TIME ZONE,
        success BOOLEAN NOT NULL DEFAULT false,
        error_code VARCHAR(100),
        error_message TEXT,
        duration_ms INTEGER NOT NULL DEFAULT 0,
        CONSTRAINT uq_execution_attempts_operation_number UNIQUE (operation_id, attempt_number),
        CONSTRAINT ck_execution_attempts_numbers CHECK (attempt_number >= 1 AND duration_ms >= 0)
      )`,
      `CREATE INDEX idx_execution_attempts_tenant ON execution_attempts(tenant_id, started_at DESC)`,

      `CREATE TABLE operation_logs (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        operation_id UUID NOT NULL REFERENCES provisioning_operations(id) ON DELETE CASCADE,
        tenant_id UUID NOT NULL REFERENCES tenants(id),
        "timestamp" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        level VARCHAR(10) NOT NULL,
        message TEXT NOT NULL,
        CONSTRAINT ck_operation_logs_level CHECK (level IN ('info', 'warn', 'error'))
      )`,
      `CREATE INDEX idx_operation_logs_operation ON operation_logs(operation_id, "timestamp")`,
      `CREATE INDEX idx_operation_logs_tenant ON operation_logs(tenant_id, "timestamp" DESC)`,

      `CREATE TABLE provisioning_conflicts (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id UUID NOT NULL REFERENCES tenants(id),
        operation_id_a UUID NOT NULL REFERENCES provisioning_operations(id) ON DELETE CASCADE,
        operation_id_b UUID NOT NULL REFERENCES provisioning_operations(id) ON DELETE CASCADE,
        conflict_type VARCHAR(100) NOT NULL,
        affected_attributes TEXT[] NOT NULL DEFAULT '{}',
        status VARCHAR(20) NOT NULL DEFAULT 'pending',
        outcome VARCHAR(20),
        notes TEXT,
        created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        resolved_at TIMESTAMP WITH TIME ZONE,
        resolved_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
        CONSTRAINT uq_provisioning_conflicts_pair UNIQUE (operation_id_a, operation_id_b),
        CONSTRAINT ck_provisioning_conflicts_status CHECK (status IN ('pending', 'resolved')),
        CONSTRAINT ck_provisioning_conflicts_outcome CHECK (outcome IS NULL OR outcome IN ('applied', 'superseded', 'merged', 'rejected')),
        CONSTRAINT ck_provisioning_conflicts_resolution CHECK (status = 'pending' OR outcome IS NOT NULL),
        CONSTRAINT ck_provisioning_conflicts_distinct CHECK (operation_id_a <> operation_id_b)
      )`,
      `CREATE INDEX idx_conflicts_tenant_status ON provisioning_conflicts(tenant_id, status, created_at DESC)`,
      `CREATE INDEX idx_conflicts_operation_b ON provisioning_conflicts(operation_id_b)`,

      `ALTER TABLE script_executions ADD COLUMN operation_id UUID REFERENCES provisioning_operations(id) ON DELETE SET NULL`,
      `CREATE INDEX idx_executions_operation ON script_executions(operation_id) WHERE operation_id IS NOT NULL`,
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      'DROP INDEX idx_executions_operation',
      'ALTER TABLE script_executions DROP COLUMN operation_id',
      'DROP TABLE provisioning_conflicts',
      'DROP TABLE operation_logs',
      'DROP TABLE execution_attempts',
      'DROP TABLE provisioning_operations',
    ]);
  }
}
