import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Relation } from 'typeorm';
import { OPERATION_LOG_LEVELS, OperationLogLevel } from '../enums';
import { checkIn } from './check';
import { ProvisioningOperation } from './provisioning-operation.entity';
import { Tenant } from './tenant.entity';

/** Seed 002's OperationLog. */
@Entity('operation_logs')
@Check('ck_operation_logs_level', checkIn('level', OPERATION_LOG_LEVELS))
@Index('idx_operation_logs_operation', ['operation_id', 'timestamp'])
@Index('idx_operation_logs_tenant', { synchronize: false })
export class OperationLog {
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

  @Column({ type: 'timestamptz', default: () => 'now()' })
  timestamp: Date;

  @Column({ type: 'varchar', length: 10 })
  level: OperationLogLevel;

  @Column({ type: 'text' })
  message: string;
}
