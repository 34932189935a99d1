import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Relation, Unique } from 'typeorm';
import { ProvisioningOperation } from './provisioning-operation.entity';
import { Tenant } from './tenant.entity';

/** Seed 002's ExecutionAttempt: one try of a provisioning operation. */
@Entity('execution_attempts')
@Check('ck_execution_attempts_numbers', 'attempt_number >= 1 AND duration_ms >= 0')
@Unique('uq_execution_attempts_operation_number', ['operation_id', 'attempt_number'])
@Index('idx_execution_attempts_tenant', { synchronize: false })
export class ExecutionAttempt {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'uuid' })
  operation_id: string;

  @ManyToOne(() => ProvisioningOperation, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'operation_id' })
  operation?: Relation<ProvisioningOperation>;

  @Column({ type: 'uuid' })
  tenant_id: string;

  @ManyToOne(() => Tenant, { onDelete: 'NO ACTION' })
  @JoinColumn({ name: 'tenant_id' })
  tenant?: Relation<Tenant>;

  /** 1, 2, 3 ... */
  @Column({ type: 'integer' })
  attempt_number: number;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  started_at: Date;

  @Column({ type: 'timestamptz', nullable: true })
  completed_at: Date | null;

  @Column({ type: 'boolean', default: false })
  success: boolean;

  @Column({ type: 'varchar', length: 100, nullable: true })
  error_code: string | null;

  @Column({ type: 'text', nullable: true })
  error_message: string | null;

  /** 0 until the attempt completes. */
  @Column({ type: 'integer', default: 0 })
  duration_ms: number;
}
