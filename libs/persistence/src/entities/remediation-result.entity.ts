import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, OneToOne, PrimaryGeneratedColumn, Relation, UpdateDateColumn } from 'typeorm';
import { REMEDIATION_ACTIONS, REMEDIATION_DIRECTIONS, REMEDIATION_STATUSES, RemediationAction, RemediationDirection, RemediationStatus } from '../enums';
import { checkIn } from './check';
import { Connector } from './connector.entity';
import { Discrepancy } from './discrepancy.entity';
import { ReconciliationAction } from './reconciliation-action.entity';
import { ReconciliationRun } from './reconciliation-run.entity';
import { Tenant } from './tenant.entity';

/**
 * Seed 002's RemediationResult: at most one per discrepancy. Toward a target it is `pending` (success
 * NULL) until the provisioning queue's operation ends.
 */
@Entity('remediation_results')
@Check('ck_remediation_results_action', checkIn('action', REMEDIATION_ACTIONS))
@Check('ck_remediation_results_direction', checkIn('direction', REMEDIATION_DIRECTIONS))
@Check('ck_remediation_results_status', checkIn('status', REMEDIATION_STATUSES))
@Check('ck_remediation_results_success', "(status = 'pending') = (success IS NULL)")
@Index('idx_remediation_results_tenant', { synchronize: false })
@Index('uq_remediation_results_operation', ['operation_id'], { unique: true, where: 'operation_id IS NOT NULL' })
@Index('idx_remediation_results_run', ['run_id'], { where: 'run_id IS NOT NULL' })
export class RemediationResult {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'uuid' })
  tenant_id: string;

  @ManyToOne(() => Tenant, { onDelete: 'NO ACTION' })
  @JoinColumn({ name: 'tenant_id' })
  tenant?: Relation<Tenant>;

  @Column({ type: 'uuid' })
  discrepancy_id: string;

  @OneToOne(() => Discrepancy, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'discrepancy_id' })
  discrepancy?: Relation<Discrepancy>;

  @Column({ type: 'varchar', length: 30 })
  action: RemediationAction;

  @Column({ type: 'varchar', length: 20 })
  direction: RemediationDirection;

  /** NULL while pending. */
  @Column({ type: 'boolean', nullable: true })
  success: boolean | null;

  @Column({ type: 'varchar', length: 20, default: 'succeeded' })
  status: RemediationStatus;

  @Column({ type: 'uuid', nullable: true })
  connector_id: string | null;

  @ManyToOne(() => Connector, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'connector_id' })
  connector?: Relation<Connector>;

  @Column({ type: 'uuid', nullable: true })
  run_id: string | null;

  @ManyToOne(() => ReconciliationRun, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'run_id' })
  run?: Relation<ReconciliationRun>;

  /** The audit row of the action that asked for it. */
  @Column({ type: 'uuid', nullable: true })
  action_id: string | null;

  @ManyToOne(() => ReconciliationAction, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'action_id' })
  reconciliationAction?: Relation<ReconciliationAction>;

  /** The provisioning operation that carries it out (toward a target); the provisioning queue's row, no foreign key. */
  @Column({ type: 'uuid', nullable: true })
  operation_id: string | null;

  @Column({ type: 'text', nullable: true })
  error: string | null;

  @Column({ type: 'jsonb', nullable: true })
  changes: Record<string, unknown> | null;

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;

  @Column({ type: 'timestamptz', nullable: true })
  completed_at: Date | null;

  @UpdateDateColumn({ type: 'timestamptz' })
  updated_at: Date;
}
