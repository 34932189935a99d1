import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Relation } from 'typeorm';
import { Connector } from './connector.entity';
import { Discrepancy } from './discrepancy.entity';
import { ReconciliationRun } from './reconciliation-run.entity';
import { Tenant } from './tenant.entity';
import { User } from './user.entity';

/** Seed 002's ReconciliationAction: the audit log of what reconciliation did (or would do, `dry_run`). */
@Entity('reconciliation_actions')
@Index('idx_reconciliation_actions_run', ['run_id'], { where: 'run_id IS NOT NULL' })
@Index('idx_reconciliation_actions_discrepancy', ['discrepancy_id'], { where: 'discrepancy_id IS NOT NULL' })
@Index('idx_reconciliation_actions_tenant_connector', { synchronize: false })
export class ReconciliationAction {
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

  /** The run it belongs to (ActionSummary of the run's report); NULL for actions outside a run. */
  @Column({ type: 'uuid', nullable: true })
  run_id: string | null;

  @ManyToOne(() => ReconciliationRun, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'run_id' })
  run?: Relation<ReconciliationRun>;

  @Column({ type: 'uuid', nullable: true })
  discrepancy_id: string | null;

  @ManyToOne(() => Discrepancy, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'discrepancy_id' })
  discrepancy?: Relation<Discrepancy>;

  /** A RemediationAction value, or `ignore`, `run_started`, ... (free text in seed 002). */
  @Column({ type: 'varchar', length: 50 })
  action_type: string;

  /** `success`, `failure`, `skipped` ... (free text in seed 002). */
  @Column({ type: 'varchar', length: 50 })
  result: string;

  @Column({ type: 'boolean', default: false })
  dry_run: boolean;

  /** NULL when the system acted (a scheduled run). */
  @Column({ type: 'integer', nullable: true })
  performed_by: number | null;

  @ManyToOne(() => User, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'performed_by' })
  performer?: Relation<User>;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  performed_at: Date;

  @Column({ type: 'jsonb', nullable: true })
  details: Record<string, unknown> | null;
}
