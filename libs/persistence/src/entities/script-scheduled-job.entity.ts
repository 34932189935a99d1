import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, OneToOne, PrimaryGeneratedColumn, Relation, UpdateDateColumn } from 'typeorm';
import {
  MISFIRE_POLICIES,
  MisfirePolicy,
  SCHEDULE_DAY_FILTERS,
  SCHEDULE_FAILURE_ACTIONS,
  SCHEDULE_FREQUENCIES,
  SCHEDULE_STATUSES,
  ScheduleDayFilter,
  ScheduleFailureAction,
  ScheduleFrequency,
  ScheduleStatus,
} from '../enums';
import { checkIn } from './check';
import { Script } from './script.entity';
import { Tenant } from './tenant.entity';
import { User } from './user.entity';

/**
 * Seed 001's cron state of a script (one per script), with seed 004's ScriptSchedule folded in:
 * frequencies, status, misfire and failure handling, statistics, and a lease for claiming across
 * scheduler replicas (`locked_by` / `locked_until`).
 */
@Entity('script_scheduled_jobs')
@Check('ck_script_scheduled_jobs_frequency', checkIn('frequency', SCHEDULE_FREQUENCIES))
@Check('ck_script_scheduled_jobs_day_filter', checkIn('day_filter', SCHEDULE_DAY_FILTERS))
@Check('ck_script_scheduled_jobs_status', checkIn('status', SCHEDULE_STATUSES))
@Check('ck_script_scheduled_jobs_misfire_policy', checkIn('misfire_policy', MISFIRE_POLICIES))
@Check('ck_script_scheduled_jobs_failure_action', checkIn('failure_action', SCHEDULE_FAILURE_ACTIONS))
@Check('ck_script_scheduled_jobs_interval', "frequency <> 'interval' OR (interval_seconds IS NOT NULL AND interval_seconds > 0)")
@Check('ck_script_scheduled_jobs_once', "frequency <> 'once' OR run_at IS NOT NULL")
@Check(
  'ck_script_scheduled_jobs_counters',
  'run_count >= 0 AND success_count >= 0 AND failure_count >= 0 AND consecutive_failures >= 0 AND total_duration_ms >= 0 AND failure_threshold >= 1',
)
@Index('idx_scheduled_next_run', ['next_run_at'], { where: 'is_running = false' })
@Index('idx_scheduled_script', ['script_id'])
@Index('idx_scheduled_tenant', ['tenant_id'])
@Index('idx_scheduled_due', ['next_run_at'], { where: "status = 'active'" })
export class ScriptScheduledJob {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'uuid' })
  script_id: string;

  @OneToOne(() => Script, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'script_id' })
  script?: Relation<Script>;

  @Column({ type: 'uuid' })
  tenant_id: string;

  @ManyToOne(() => Tenant, { onDelete: 'NO ACTION' })
  @JoinColumn({ name: 'tenant_id' })
  tenant?: Relation<Tenant>;

  /** The effective cron (for `daily`…`yearly` derived from the schedule; see docs/data-model.md). */
  @Column({ type: 'varchar', length: 255 })
  cron_expression: string;

  @Column({ type: 'varchar', length: 100, nullable: true, default: 'UTC' })
  timezone: string | null;

  @Column({ type: 'timestamptz', nullable: true })
  next_run_at: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  last_run_at: Date | null;

  @Column({ type: 'varchar', length: 50, nullable: true })
  last_run_status: string | null;

  @Column({ type: 'boolean', nullable: true, default: false })
  is_running: boolean | null;

  @CreateDateColumn({ type: 'timestamptz', nullable: true })
  created_at: Date | null;

  @UpdateDateColumn({ type: 'timestamptz', nullable: true })
  updated_at: Date | null;

  // ---- seed 004 ----
  @Column({ type: 'varchar', length: 20, default: 'cron' })
  frequency: ScheduleFrequency;

  /** Required for `interval`. */
  @Column({ type: 'integer', nullable: true })
  interval_seconds: number | null;

  /** Required for `once`. */
  @Column({ type: 'timestamptz', nullable: true })
  run_at: Date | null;

  @Column({ type: 'varchar', length: 20, default: 'all' })
  day_filter: ScheduleDayFilter;

  @Column({ type: 'varchar', length: 20, default: 'active' })
  status: ScheduleStatus;

  /** Whether a slot may start while the previous run is still going. */
  @Column({ type: 'boolean', default: false })
  allow_concurrent: boolean;

  @Column({ type: 'varchar', length: 20, default: 'skip' })
  misfire_policy: MisfirePolicy;

  @Column({ type: 'varchar', length: 20, default: 'continue' })
  failure_action: ScheduleFailureAction;

  /** Consecutive failures that trigger `failure_action`. */
  @Column({ type: 'integer', default: 1 })
  failure_threshold: number;

  @Column({ type: 'integer', default: 0 })
  consecutive_failures: number;

  @Column({ type: 'boolean', default: false })
  notify_on_success: boolean;

  @Column({ type: 'boolean', default: false })
  notify_on_failure: boolean;

  @Column({ type: 'text', array: true, default: [] })
  notification_emails: string[];

  /** The permissions of whoever last wrote the schedule, as granted then: what its runs are checked against. */
  @Column({ type: 'text', array: true, default: [] })
  owner_permissions: string[];

  @Column({ type: 'integer', default: 0 })
  run_count: number;

  @Column({ type: 'integer', default: 0 })
  success_count: number;

  @Column({ type: 'integer', default: 0 })
  failure_count: number;

  @Column({ type: 'integer', nullable: true })
  last_duration_ms: number | null;

  /** Sum over finished runs; average = total_duration_ms / (success_count + failure_count). BIGINT: a string in JS. */
  @Column({ type: 'bigint', default: 0 })
  total_duration_ms: string;

  @Column({ type: 'text', nullable: true })
  last_error: string | null;

  @Column({ type: 'varchar', length: 255, nullable: true })
  locked_by: string | null;

  @Column({ type: 'timestamptz', nullable: true })
  locked_until: Date | null;

  @Column({ type: 'integer', nullable: true })
  created_by: number | null;

  @ManyToOne(() => User, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'created_by' })
  creator?: Relation<User>;

  @Column({ type: 'integer', nullable: true })
  updated_by: number | null;

  @ManyToOne(() => User, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'updated_by' })
  updater?: Relation<User>;
}
