import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, OneToOne, PrimaryGeneratedColumn, Relation, UpdateDateColumn } from 'typeorm';
import { RECONCILIATION_FREQUENCIES, RECONCILIATION_MODES, RECONCILIATION_SCHEDULE_OUTCOMES, ReconciliationFrequency, ReconciliationMode, ReconciliationScheduleOutcome } from '../enums';
import { checkIn } from './check';
import { Connector } from './connector.entity';
import { ReconciliationRun } from './reconciliation-run.entity';
import { Tenant } from './tenant.entity';

/** Seed 002's ReconciliationSchedule: one per connector. */
@Entity('reconciliation_schedules')
@Check('ck_reconciliation_schedules_mode', checkIn('mode', RECONCILIATION_MODES))
@Check('ck_reconciliation_schedules_frequency', checkIn('frequency', RECONCILIATION_FREQUENCIES))
@Check('ck_reconciliation_schedules_day_of_week', 'day_of_week BETWEEN 0 AND 6')
@Check('ck_reconciliation_schedules_day_of_month', 'day_of_month BETWEEN 1 AND 31')
@Check('ck_reconciliation_schedules_hour_of_day', 'hour_of_day BETWEEN 0 AND 23')
@Check('ck_reconciliation_schedules_cron', "frequency <> 'cron' OR cron_expression IS NOT NULL")
@Check('ck_reconciliation_schedules_weekly', "frequency <> 'weekly' OR day_of_week IS NOT NULL")
@Check('ck_reconciliation_schedules_monthly', "frequency <> 'monthly' OR day_of_month IS NOT NULL")
@Check('ck_reconciliation_schedules_last_outcome', checkIn('last_outcome', RECONCILIATION_SCHEDULE_OUTCOMES))
@Index('idx_reconciliation_schedules_due', ['next_run_at'], { where: 'enabled' })
@Index('idx_reconciliation_schedules_tenant', ['tenant_id'])
export class ReconciliationSchedule {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'uuid' })
  tenant_id: string;

  @ManyToOne(() => Tenant, { onDelete: 'NO ACTION' })
  @JoinColumn({ name: 'tenant_id' })
  tenant?: Relation<Tenant>;

  @Column({ type: 'uuid' })
  connector_id: string;

  @OneToOne(() => Connector, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'connector_id' })
  connector?: Relation<Connector>;

  @Column({ type: 'varchar', length: 255, nullable: true })
  connector_name: string | null;

  @Column({ type: 'varchar', length: 10, default: 'full' })
  mode: ReconciliationMode;

  @Column({ type: 'varchar', length: 20 })
  frequency: ReconciliationFrequency;

  /** 0 (Sunday) to 6, for `weekly`. */
  @Column({ type: 'smallint', nullable: true })
  day_of_week: number | null;

  /** 1 to 31, for `monthly`. */
  @Column({ type: 'smallint', nullable: true })
  day_of_month: number | null;

  @Column({ type: 'smallint', default: 0 })
  hour_of_day: number;

  /** Required for `cron`. */
  @Column({ type: 'varchar', length: 255, nullable: true })
  cron_expression: string | null;

  @Column({ type: 'boolean', default: true })
  enabled: boolean;

  /** The runs it starts are dry runs (report only). Not in seed 002. */
  @Column({ type: 'boolean', default: false })
  dry_run: boolean;

  /** The occurrence the scheduler last fired (its `scheduled_for`). */
  @Column({ type: 'timestamptz', nullable: true })
  last_run_at: Date | null;

  /** What became of that occurrence: `requested` (fired), `started` (a run), `skipped` (the connector was busy). */
  @Column({ type: 'varchar', length: 20, nullable: true })
  last_outcome: ReconciliationScheduleOutcome | null;

  /** The run the last started occurrence created. */
  @Column({ type: 'uuid', nullable: true })
  last_run_id: string | null;

  @ManyToOne(() => ReconciliationRun, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'last_run_id' })
  last_run?: Relation<ReconciliationRun>;

  @Column({ type: 'timestamptz', nullable: true })
  next_run_at: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updated_at: Date;
}
