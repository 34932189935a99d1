import { MigrationInterface, QueryRunner } from 'typeorm';
import { execute } from './support/sql';

/**
 * The segments of a reconciliation run, so several reconciler replicas can work one run at once: the
 * target's search cut into parts the connector can read independently (`read`: SQL key ranges, SCIM
 * startIndex ranges; one segment for connectors that cannot cut, LDAP) and the identity store cut into id
 * ranges (`expect`). Each segment is a job of its own with its own checkpoint (cursor), lease and
 * heartbeat; `generation` is bumped when the sweep takes a segment back from a dead worker, so a stalled
 * job of the old generation can no longer claim it. `reconciliation_runs.segments_pending` counts the
 * segments not done: the transaction that brings it to 0 is the one that moves the run on.
 */
export class AddReconciliationRunSegments1765440000000 implements MigrationInterface {
  name = 'AddReconciliationRunSegments1765440000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      `ALTER TABLE reconciliation_runs ADD COLUMN segments_pending INTEGER,
         ADD CONSTRAINT ck_reconciliation_runs_segments_pending CHECK (segments_pending IS NULL OR segments_pending >= 0)`,
      `CREATE TABLE reconciliation_run_segments (
        tenant_id UUID NOT NULL REFERENCES tenants(id),
        run_id UUID NOT NULL REFERENCES reconciliation_runs(id) ON DELETE CASCADE,
        kind VARCHAR(10) NOT NULL,
        segment INTEGER NOT NULL,
        bounds TEXT,
        cursor TEXT,
        pages INTEGER NOT NULL DEFAULT 0,
        accounts_read INTEGER NOT NULL DEFAULT 0,
        skipped_accounts INTEGER NOT NULL DEFAULT 0,
        watermark TEXT,
        done BOOLEAN NOT NULL DEFAULT false,
        generation INTEGER NOT NULL DEFAULT 0,
        lease_token UUID,
        heartbeat_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        worked_by TEXT[] NOT NULL DEFAULT '{}',
        updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        PRIMARY KEY (run_id, kind, segment),
        CONSTRAINT ck_reconciliation_run_segments_kind CHECK (kind IN ('read', 'expect')),
        CONSTRAINT ck_reconciliation_run_segments_counters CHECK (segment >= 0 AND pages >= 0 AND accounts_read >= 0 AND skipped_accounts >= 0 AND generation >= 0)
      )`,
      `CREATE INDEX idx_reconciliation_run_segments_tenant ON reconciliation_run_segments(tenant_id, run_id)`,
      // The sweep: segments not done whose worker stopped beating.
      `CREATE INDEX idx_reconciliation_run_segments_open ON reconciliation_run_segments(heartbeat_at) WHERE NOT done`,
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      'DROP TABLE reconciliation_run_segments',
      'ALTER TABLE reconciliation_runs DROP CONSTRAINT ck_reconciliation_runs_segments_pending, DROP COLUMN segments_pending',
    ]);
  }
}
