import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Relation, UpdateDateColumn } from 'typeorm';
import { OPERATION_STATUSES, OPERATION_TYPES, OperationStatus, OperationType } from '../enums';
import { checkIn } from './check';
import { Connector } from './connector.entity';
import { Identity } from './identity.entity';
import { Tenant } from './tenant.entity';

/** Seed 002's ProvisioningOperation: one create/update/delete of an account on a connector. */
@Entity('provisioning_operations')
@Check('ck_provisioning_operations_operation_type', checkIn('operation_type', OPERATION_TYPES))
@Check('ck_provisioning_operations_status', checkIn('status', OPERATION_STATUSES))
@Check('ck_provisioning_operations_retries', 'retry_count >= 0 AND max_retries >= 0')
@Index('idx_operations_tenant_status', ['tenant_id', 'status'])
@Index('idx_operations_connector_status', ['connector_id', 'status'])
@Index('idx_operations_user', ['user_id'], { where: 'user_id IS NOT NULL' })
@Index('idx_operations_target', ['connector_id', 'object_class', 'target_uid'], { where: 'target_uid IS NOT NULL' })
@Index('idx_operations_dead_letter', { synchronize: false })
@Index('idx_operations_pending', { synchronize: false })
@Index('idx_operations_tenant_created', { synchronize: false })
@Index('idx_operations_account_open', { synchronize: false })
@Index('idx_operations_open_updated', { synchronize: false })
export class ProvisioningOperation {
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

  /** Denormalized at creation (seed 002). */
  @Column({ type: 'varchar', length: 255 })
  connector_name: string;

  /** The identity (seed 002: "associated user"); NULL once the identity is deleted. */
  @Column({ type: 'uuid', nullable: true })
  user_id: string | null;

  @ManyToOne(() => Identity, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'user_id' })
  user?: Relation<Identity>;

  @Column({ type: 'varchar', length: 20 })
  operation_type: OperationType;

  @Column({ type: 'varchar', length: 100, default: 'account' })
  object_class: string;

  @Column({ type: 'varchar', length: 500, nullable: true })
  target_uid: string | null;

  @Column({ type: 'varchar', length: 30, default: 'pending' })
  status: OperationStatus;

  /** Higher is more urgent. */
  @Column({ type: 'integer', default: 0 })
  priority: number;

  @Column({ type: 'integer', default: 0 })
  retry_count: number;

  @Column({ type: 'integer', default: 3 })
  max_retries: number;

  @Column({ type: 'text', nullable: true })
  error_message: string | null;

  @Column({ type: 'jsonb', default: {} })
  payload: Record<string, unknown>;

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updated_at: Date;

  @Column({ type: 'timestamptz', nullable: true })
  completed_at: Date | null;

  /** Notes when resolved from the dead-letter queue. */
  @Column({ type: 'text', nullable: true })
  resolution_notes: string | null;

  /** The account it is about (identity id, or target uid): one operation per connector and key runs at a time. */
  @Column({ type: 'varchar', length: 500, nullable: true })
  account_key: string | null;

  /** When a `failed` operation's automatic retry is due; NULL when none is. */
  @Column({ type: 'timestamptz', nullable: true })
  next_attempt_at: Date | null;

  /** When the current (or last) attempt started. */
  @Column({ type: 'timestamptz', nullable: true })
  started_at: Date | null;
}
