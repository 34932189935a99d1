import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Relation, Unique, UpdateDateColumn } from 'typeorm';
import { HOOK_FAILURE_POLICIES, HOOK_OPERATION_TYPES, HOOK_PHASES, HookFailurePolicy, HookOperationType, HookPhase } from '../enums';
import { checkIn } from './check';
import { Connector } from './connector.entity';
import { Script } from './script.entity';
import { Tenant } from './tenant.entity';
import { User } from './user.entity';

/** Seed 000's HookBinding: runs a script before or after a connector operation. */
@Entity('hook_bindings')
@Check('ck_hook_bindings_hook_phase', checkIn('hook_phase', HOOK_PHASES))
@Check('ck_hook_bindings_operation_type', checkIn('operation_type', HOOK_OPERATION_TYPES))
@Check('ck_hook_bindings_failure_policy', checkIn('failure_policy', HOOK_FAILURE_POLICIES))
@Check('ck_hook_bindings_execution_order', 'execution_order >= 0')
@Check('ck_hook_bindings_max_retries', "max_retries BETWEEN 0 AND 10 AND (failure_policy = 'retry' OR max_retries = 0)")
@Check('ck_hook_bindings_timeout_seconds', 'timeout_seconds BETWEEN 1 AND 300')
@Unique('uq_hook_bindings_script_hook', ['script_id', 'connector_id', 'operation_type', 'hook_phase'])
@Index('idx_hook_bindings_lookup', ['tenant_id', 'connector_id', 'operation_type', 'hook_phase', 'execution_order'])
@Index('idx_hook_bindings_script', ['script_id'])
export class HookBinding {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'uuid' })
  tenant_id: string;

  @ManyToOne(() => Tenant, { onDelete: 'NO ACTION' })
  @JoinColumn({ name: 'tenant_id' })
  tenant?: Relation<Tenant>;

  @Column({ type: 'uuid' })
  script_id: string;

  @ManyToOne(() => Script, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'script_id' })
  script?: Relation<Script>;

  @Column({ type: 'uuid' })
  connector_id: string;

  @ManyToOne(() => Connector, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'connector_id' })
  connector?: Relation<Connector>;

  @Column({ type: 'varchar', length: 10 })
  hook_phase: HookPhase;

  @Column({ type: 'varchar', length: 20 })
  operation_type: HookOperationType;

  @Column({ type: 'integer', default: 0 })
  execution_order: number;

  @Column({ type: 'varchar', length: 20, default: 'abort' })
  failure_policy: HookFailurePolicy;

  /** Only meaningful for `retry` (0 otherwise, enforced by a CHECK). */
  @Column({ type: 'integer', default: 0 })
  max_retries: number;

  @Column({ type: 'integer', default: 30 })
  timeout_seconds: number;

  @Column({ type: 'boolean', default: true })
  enabled: boolean;

  @Column({ type: 'integer', nullable: true })
  created_by: number | null;

  @ManyToOne(() => User, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'created_by' })
  creator?: Relation<User>;

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updated_at: Date;
}
