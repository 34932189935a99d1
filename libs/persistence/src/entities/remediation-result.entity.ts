import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, OneToOne, PrimaryGeneratedColumn, Relation } from 'typeorm';
import { REMEDIATION_ACTIONS, REMEDIATION_DIRECTIONS, RemediationAction, RemediationDirection } from '../enums';
import { checkIn } from './check';
import { Discrepancy } from './discrepancy.entity';
import { Tenant } from './tenant.entity';

/** Seed 002's RemediationResult: at most one per discrepancy. */
@Entity('remediation_results')
@Check('ck_remediation_results_action', checkIn('action', REMEDIATION_ACTIONS))
@Check('ck_remediation_results_direction', checkIn('direction', REMEDIATION_DIRECTIONS))
@Index('idx_remediation_results_tenant', { synchronize: false })
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

  @Column({ type: 'boolean' })
  success: boolean;

  @Column({ type: 'text', nullable: true })
  error: string | null;

  @Column({ type: 'jsonb', nullable: true })
  changes: Record<string, unknown> | null;

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;
}
