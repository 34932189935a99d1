import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Relation } from 'typeorm';
import { DISCREPANCY_TYPES, DiscrepancyType, RESOLUTION_STATUSES, ResolutionStatus } from '../enums';
import { checkIn } from './check';
import { Connector } from './connector.entity';
import { Identity } from './identity.entity';
import { ReconciliationRun } from './reconciliation-run.entity';
import { Tenant } from './tenant.entity';
import { User } from './user.entity';

/** Seed 002's Discrepancy found by a reconciliation run (one row per mismatched attribute). */
@Entity('discrepancies')
@Check('ck_discrepancies_type', checkIn('discrepancy_type', DISCREPANCY_TYPES))
@Check('ck_discrepancies_resolution_status', checkIn('resolution_status', RESOLUTION_STATUSES))
@Check('ck_discrepancies_mismatch_attribute', "discrepancy_type <> 'mismatch' OR attribute_name IS NOT NULL")
@Index('idx_discrepancies_run_type', ['run_id', 'discrepancy_type'])
@Index('idx_discrepancies_tenant_connector_status', ['tenant_id', 'connector_id', 'resolution_status'])
@Index('idx_discrepancies_tenant_created', ['tenant_id', 'created_at'])
@Index('idx_discrepancies_identity', ['identity_id'], { where: 'identity_id IS NOT NULL' })
export class Discrepancy {
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

  @Column({ type: 'uuid' })
  run_id: string;

  @ManyToOne(() => ReconciliationRun, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'run_id' })
  run?: Relation<ReconciliationRun>;

  @Column({ type: 'varchar', length: 20 })
  discrepancy_type: DiscrepancyType;

  @Column({ type: 'uuid', nullable: true })
  identity_id: string | null;

  @ManyToOne(() => Identity, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'identity_id' })
  identity?: Relation<Identity>;

  @Column({ type: 'varchar', length: 500, nullable: true })
  external_uid: string | null;

  /** Required for `mismatch`. */
  @Column({ type: 'varchar', length: 255, nullable: true })
  attribute_name: string | null;

  @Column({ type: 'text', nullable: true })
  expected_value: string | null;

  @Column({ type: 'text', nullable: true })
  actual_value: string | null;

  @Column({ type: 'varchar', length: 20, default: 'pending' })
  resolution_status: ResolutionStatus;

  @Column({ type: 'timestamptz', nullable: true })
  resolved_at: Date | null;

  @Column({ type: 'integer', nullable: true })
  resolved_by: number | null;

  @ManyToOne(() => User, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'resolved_by' })
  resolver?: Relation<User>;

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;
}
