import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Relation } from 'typeorm';
import { ScriptExecution } from './script-execution.entity';
import { Script } from './script.entity';
import { Tenant } from './tenant.entity';

/** Seed 001: event-triggered runs that exhausted their retries (also published on a `.dlq` topic). */
@Entity('script_event_dead_letters')
@Index('idx_dead_letters_tenant', ['tenant_id'])
@Index('idx_dead_letters_script', ['script_id'])
@Index('idx_dead_letters_retry', ['retry_count'], { where: 'retry_count < 3' })
@Index('idx_dead_letters_created', { synchronize: false })
export class ScriptEventDeadLetter {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'uuid' })
  script_id: string;

  @ManyToOne(() => Script, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'script_id' })
  script?: Relation<Script>;

  @Column({ type: 'uuid' })
  tenant_id: string;

  @ManyToOne(() => Tenant, { onDelete: 'NO ACTION' })
  @JoinColumn({ name: 'tenant_id' })
  tenant?: Relation<Tenant>;

  @Column({ type: 'uuid', nullable: true })
  execution_id: string | null;

  @ManyToOne(() => ScriptExecution, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'execution_id' })
  execution?: Relation<ScriptExecution>;

  @Column({ type: 'varchar', length: 255 })
  event_type: string;

  @Column({ type: 'jsonb' })
  event_data: Record<string, unknown>;

  @Column({ type: 'text' })
  error: string;

  @Column({ type: 'integer', nullable: true, default: 0 })
  retry_count: number | null;

  @Column({ type: 'timestamptz', nullable: true })
  last_retry_at: Date | null;

  @CreateDateColumn({ type: 'timestamptz', nullable: true })
  created_at: Date | null;
}
