import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Relation, Unique } from 'typeorm';
import { CONFLICT_OUTCOMES, CONFLICT_STATUSES, ConflictOutcome, ConflictStatus } from '../enums';
import { checkIn } from './check';
import { ProvisioningOperation } from './provisioning-operation.entity';
import { Tenant } from './tenant.entity';
import { User } from './user.entity';

/** Seed 002's ProvisioningConflict between two operations on the same account. */
@Entity('provisioning_conflicts')
@Check('ck_provisioning_conflicts_status', checkIn('status', CONFLICT_STATUSES))
@Check('ck_provisioning_conflicts_outcome', `outcome IS NULL OR ${checkIn('outcome', CONFLICT_OUTCOMES)}`)
@Check('ck_provisioning_conflicts_resolution', "status = 'pending' OR outcome IS NOT NULL")
@Check('ck_provisioning_conflicts_distinct', 'operation_id_a <> operation_id_b')
@Unique('uq_provisioning_conflicts_pair', ['operation_id_a', 'operation_id_b'])
@Index('idx_conflicts_operation_b', ['operation_id_b'])
@Index('idx_conflicts_tenant_status', { synchronize: false })
export class ProvisioningConflict {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'uuid' })
  tenant_id: string;

  @ManyToOne(() => Tenant, { onDelete: 'NO ACTION' })
  @JoinColumn({ name: 'tenant_id' })
  tenant?: Relation<Tenant>;

  @Column({ type: 'uuid' })
  operation_id_a: string;

  @ManyToOne(() => ProvisioningOperation, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'operation_id_a' })
  operation_a?: Relation<ProvisioningOperation>;

  @Column({ type: 'uuid' })
  operation_id_b: string;

  @ManyToOne(() => ProvisioningOperation, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'operation_id_b' })
  operation_b?: Relation<ProvisioningOperation>;

  @Column({ type: 'varchar', length: 100 })
  conflict_type: string;

  @Column({ type: 'text', array: true, default: [] })
  affected_attributes: string[];

  @Column({ type: 'varchar', length: 20, default: 'pending' })
  status: ConflictStatus;

  /** Required once `resolved`. */
  @Column({ type: 'varchar', length: 20, nullable: true })
  outcome: ConflictOutcome | null;

  @Column({ type: 'text', nullable: true })
  notes: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;

  @Column({ type: 'timestamptz', nullable: true })
  resolved_at: Date | null;

  @Column({ type: 'integer', nullable: true })
  resolved_by: number | null;

  @ManyToOne(() => User, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'resolved_by' })
  resolver?: Relation<User>;
}
