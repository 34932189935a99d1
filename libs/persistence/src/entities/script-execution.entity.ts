import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Relation } from 'typeorm';
import { EXECUTION_STATUSES, ExecutionStatus, TRIGGER_TYPES, TriggerType } from '../enums';
import { checkIn } from './check';
import { Connector } from './connector.entity';
import { HookBinding } from './hook-binding.entity';
import { ProvisioningOperation } from './provisioning-operation.entity';
import { ScriptScheduledJob } from './script-scheduled-job.entity';
import { Script } from './script.entity';
import { Tenant } from './tenant.entity';

/** `script_executions.metrics` (seed 001; seed 004's resource usage maps here, see docs/data-model.md). */
export interface ExecutionMetrics {
  duration_ms?: number;
  memory_used_bytes?: number;
  api_call_count?: number;
  database_query_count?: number;
  cpu_time_ms?: number;
  output_size_bytes?: number;
  [extra: string]: number | undefined;
}

/** One captured `console.*` call: `log`/`info`/`debug` are seed 004's stdout, `warn`/`error` its stderr. */
export interface ExecutionLogLine {
  level: 'debug' | 'log' | 'info' | 'warn' | 'error';
  message: string;
  /** ISO 8601. */
  timestamp: string;
}

/**
 * Seed 001's execution history, also seed 000's ExecutionLog (its `status` is derived, see
 * `toExecutionLogStatus`; `input_context` is `input`, `executed_at` is `started_at`) and seed 004's
 * ScriptExecution (retries with a parent, `queued`, captured logs).
 */
@Entity('script_executions')
@Check('ck_script_executions_status', checkIn('status', EXECUTION_STATUSES))
@Check('ck_script_executions_trigger_type', checkIn('trigger_type', TRIGGER_TYPES))
@Check('ck_script_executions_retries', 'retry_count >= 0 AND max_retries >= 0 AND retry_count <= max_retries')
@Check('ck_script_executions_recovery_count', 'recovery_count >= 0')
@Index('idx_executions_next_retry', ['next_retry_at'], { where: 'next_retry_at IS NOT NULL' })
@Index('idx_executions_script', ['script_id'])
@Index('idx_executions_tenant_script', ['tenant_id', 'script_id'])
@Index('idx_executions_tenant_status', ['tenant_id', 'status'])
@Index('idx_executions_tenant_trigger', ['tenant_id', 'trigger_type'])
@Index('idx_executions_pending', ['tenant_id', 'status'], { where: "status = 'pending'" })
@Index('idx_executions_running', ['tenant_id', 'status'], { where: "status = 'running'" })
@Index('idx_executions_binding', ['binding_id'], { where: 'binding_id IS NOT NULL' })
@Index('idx_executions_parent', ['parent_execution_id'], { where: 'parent_execution_id IS NOT NULL' })
@Index('idx_executions_operation', ['operation_id'], { where: 'operation_id IS NOT NULL' })
@Index('idx_executions_tenant_completed', ['tenant_id', 'completed_at', 'id'], { where: 'completed_at IS NOT NULL AND dry_run = false' })
@Index('uq_executions_schedule_slot', ['scheduled_job_id', 'scheduled_for'], {
  unique: true,
  where: 'scheduled_job_id IS NOT NULL AND scheduled_for IS NOT NULL AND parent_execution_id IS NULL',
})
// Descending indexes: owned by the migrations.
@Index('idx_executions_tenant_started', { synchronize: false })
@Index('idx_executions_script_started', { synchronize: false })
export class ScriptExecution {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'uuid' })
  script_id: string;

  @ManyToOne(() => Script, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'script_id' })
  script?: Relation<Script>;

  @Column({ type: 'uuid' })
  tenant_id: string;

  @ManyToOne(() => Tenant, { onDelete: 'NO ACTION' })
  @JoinColumn({ name: 'tenant_id' })
  tenant?: Relation<Tenant>;

  @Column({ type: 'varchar', length: 50 })
  status: ExecutionStatus;

  @Column({ type: 'varchar', length: 50 })
  trigger_type: TriggerType;

  @Column({ type: 'jsonb', nullable: true, default: {} })
  trigger_data: Record<string, unknown> | null;

  /** Seed 000: `input_context`. */
  @Column({ type: 'jsonb', nullable: true, default: {} })
  input: Record<string, unknown> | null;

  @Column({ type: 'jsonb', nullable: true })
  output: unknown;

  @Column({ type: 'text', nullable: true })
  error: string | null;

  @Column({ type: 'jsonb', nullable: true, default: {} })
  metrics: ExecutionMetrics | null;

  /** Seed 000: `executed_at`. */
  @Column({ type: 'timestamptz', nullable: true, default: () => 'now()' })
  started_at: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  completed_at: Date | null;

  // ---- seed 000 (ExecutionLog) ----
  @Column({ type: 'uuid', nullable: true })
  binding_id: string | null;

  @ManyToOne(() => HookBinding, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'binding_id' })
  binding?: Relation<HookBinding>;

  @Column({ type: 'uuid', nullable: true })
  connector_id: string | null;

  @ManyToOne(() => Connector, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'connector_id' })
  connector?: Relation<Connector>;

  /** The `script_versions.version_number` that ran. */
  @Column({ type: 'integer', nullable: true })
  script_version: number | null;

  @Column({ type: 'boolean', default: false })
  dry_run: boolean;

  /** The actor (JWT `sub`) who ran it; NULL for event, cron and hook triggers. */
  @Column({ type: 'varchar', length: 255, nullable: true })
  executed_by: string | null;

  /** Who cancelled it (JWT `sub`, `POST /executions/{id}/cancel`), and when. */
  @Column({ type: 'varchar', length: 255, nullable: true })
  cancelled_by: string | null;

  @Column({ type: 'timestamptz', nullable: true })
  cancelled_at: Date | null;

  // ---- seed 004 ----
  /** 0 for a first run; a retry has its parent's + 1. */
  @Column({ type: 'integer', default: 0 })
  retry_count: number;

  @Column({ type: 'integer', default: 0 })
  max_retries: number;

  /** Times the recovery sweep re-queued this run after it was abandoned (bounded). */
  @Column({ type: 'integer', default: 0 })
  recovery_count: number;

  /** On a first attempt: when the next retry of the failed event-triggered run is due (NULL: none). */
  @Column({ type: 'timestamptz', nullable: true })
  next_retry_at: Date | null;

  @Column({ type: 'uuid', nullable: true })
  parent_execution_id: string | null;

  @ManyToOne(() => ScriptExecution, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'parent_execution_id' })
  parent_execution?: Relation<ScriptExecution>;

  @Column({ type: 'uuid', nullable: true })
  scheduled_job_id: string | null;

  @ManyToOne(() => ScriptScheduledJob, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'scheduled_job_id' })
  scheduled_job?: Relation<ScriptScheduledJob>;

  /** The schedule slot this run is for (unique per job for first runs). */
  @Column({ type: 'timestamptz', nullable: true })
  scheduled_for: Date | null;

  @Column({ type: 'jsonb', default: [] })
  logs: ExecutionLogLine[];

  // ---- seed 002: the provisioning operation a hook ran around ----
  @Column({ type: 'uuid', nullable: true })
  operation_id: string | null;

  @ManyToOne(() => ProvisioningOperation, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'operation_id' })
  operation?: Relation<ProvisioningOperation>;
}
