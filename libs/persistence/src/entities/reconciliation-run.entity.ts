import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Relation, UpdateDateColumn } from 'typeorm';
import { RECONCILIATION_MODES, RECONCILIATION_RUN_STATUSES, ReconciliationMode, ReconciliationRunStatus } from '../enums';
import { checkIn } from './check';
import { Connector } from './connector.entity';
import { ReconciliationSchedule } from './reconciliation-schedule.entity';
import { Tenant } from './tenant.entity';
import { User } from './user.entity';

/** Seed 002's ReconciliationRun. Its ReconciliationReport is computed from this row and its discrepancies. */
@Entity('reconciliation_runs')
@Check('ck_reconciliation_runs_mode', checkIn('mode', RECONCILIATION_MODES))
@Check('ck_reconciliation_runs_status', checkIn('status', RECONCILIATION_RUN_STATUSES))
@Check('ck_reconciliation_runs_counters', 'accounts_processed >= 0 AND discrepancies_found >= 0 AND api_calls_made >= 0')
@Check('ck_reconciliation_runs_segments_pending', 'segments_pending IS NULL OR segments_pending >= 0')
@Index('idx_reconciliation_runs_tenant_status', ['tenant_id', 'status'])
@Index('uq_reconciliation_runs_active', ['connector_id'], { unique: true, where: "status IN ('pending', 'running', 'paused')" })
@Index('idx_reconciliation_runs_tenant_connector', { synchronize: false })
@Index('idx_reconciliation_runs_connector_completed', { synchronize: false })
@Index('idx_reconciliation_runs_running_heartbeat', { synchronize: false })
@Index('uq_reconciliation_runs_schedule_occurrence', ['schedule_id', 'scheduled_for'], { unique: true, where: 'schedule_id IS NOT NULL AND scheduled_for IS NOT NULL' })
@Check('ck_reconciliation_runs_phase', "phase IN ('queued', 'reading', 'expecting', 'classifying', 'guarding', 'awaiting_approval', 'remediating', 'done')")
@Check('ck_reconciliation_runs_threshold', 'delete_threshold_percent IS NULL OR delete_threshold_percent BETWEEN 0 AND 100')
export class ReconciliationRun {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'uuid' })
  tenant_id: string;

  @ManyToOne(() => Tenant, { onDelete: 'NO ACTION' })
  @JoinColumn({ name: 'tenant_id' })
  tenant?: Relation<Tenant>;

  @Column({ type: 'uuid' })
  connector_id: string;

  @ManyToOne(() => Connector, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'connector_id' })
  connector?: Relation<Connector>;

  /** The schedule that started it; NULL for a run started by a user. */
  @Column({ type: 'uuid', nullable: true })
  schedule_id: string | null;

  @ManyToOne(() => ReconciliationSchedule, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'schedule_id' })
  schedule?: Relation<ReconciliationSchedule>;

  /** The occurrence of its schedule it was started for (one run per occurrence); NULL for other runs. */
  @Column({ type: 'timestamptz', nullable: true })
  scheduled_for: Date | null;

  @Column({ type: 'varchar', length: 10 })
  mode: ReconciliationMode;

  @Column({ type: 'boolean', default: false })
  dry_run: boolean;

  @Column({ type: 'varchar', length: 20, default: 'pending' })
  status: ReconciliationRunStatus;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  started_at: Date;

  @Column({ type: 'timestamptz', nullable: true })
  completed_at: Date | null;

  @Column({ type: 'integer', default: 0 })
  accounts_processed: number;

  @Column({ type: 'integer', default: 0 })
  discrepancies_found: number;

  /** PerformanceMetrics.api_calls_made of the report. */
  @Column({ type: 'integer', default: 0 })
  api_calls_made: number;

  @Column({ type: 'double precision', nullable: true })
  duration_seconds: number | null;

  @Column({ type: 'text', nullable: true })
  error_message: string | null;

  /** Where a paused run resumes (cursor, delta token). */
  @Column({ type: 'jsonb', default: {} })
  checkpoint: Record<string, unknown>;

  /** The user who triggered it; NULL for scheduled runs. */
  @Column({ type: 'integer', nullable: true })
  created_by: number | null;

  @ManyToOne(() => User, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'created_by' })
  creator?: Relation<User>;

  /** Where the run is: queued, reading (pages into staging), expecting, classifying, guarding, awaiting_approval, done. */
  @Column({ type: 'varchar', length: 30, default: 'queued' })
  phase: string;

  /** Accounts the target says it holds, when it tells (SCIM totalResults): progress and ETA. */
  @Column({ type: 'integer', nullable: true })
  accounts_total: number | null;

  @Column({ type: 'timestamptz', nullable: true })
  phase_started_at: Date | null;

  /** Moments of its progress, kept by a trigger: `first_page_at`, `first_page_accounts`, `<phase>_ended_at`. What the ETA reads. */
  @Column({ type: 'jsonb', default: {} })
  progress_marks: Record<string, string | number>;

  /** The target's watermark once the run completed: where the connector's next delta starts. */
  @Column({ type: 'text', nullable: true })
  watermark: string | null;

  /** The guard rail's threshold for this run (percent of linked accounts); NULL: the connector's setting. */
  @Column({ type: 'double precision', nullable: true })
  delete_threshold_percent: number | null;

  /** The guard rail's computation and verdict (would-delete, would-inactivate, linked, decision). */
  @Column({ type: 'jsonb', nullable: true })
  guard: Record<string, unknown> | null;

  /** Why a paused run waits (the guard rail, or an operator's pause). */
  @Column({ type: 'text', nullable: true })
  pause_reason: string | null;

  /** The worker that holds the run: its writes are fenced on this token. */
  @Column({ type: 'uuid', nullable: true })
  lease_token: string | null;

  @Column({ type: 'timestamptz', nullable: true })
  heartbeat_at: Date | null;

  /** Segments of the run not yet done (reconciliation_run_segments); the transaction that brings it to 0 moves the run on. */
  @Column({ type: 'integer', nullable: true })
  segments_pending: number | null;

  @UpdateDateColumn({ type: 'timestamptz' })
  updated_at: Date;
}
