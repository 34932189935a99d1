import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Relation } from 'typeorm';
import { Script } from './script.entity';
import { Tenant } from './tenant.entity';

/**
 * Seed 000's AuditEvent, widened to any entity (`entity_type`, `entity_id`). It outlives what it
 * describes: `script_id` becomes NULL when the script is deleted, `entity_id` is kept as is.
 */
@Entity('audit_events')
@Index('idx_audit_events_tenant_created', { synchronize: false })
@Index('idx_audit_events_script', { synchronize: false })
@Index('idx_audit_events_entity', { synchronize: false })
export class AuditEvent {
  @PrimaryGeneratedColumn('uuid')
  event_id: string;

  @Column({ type: 'uuid' })
  tenant_id: string;

  @ManyToOne(() => Tenant, { onDelete: 'NO ACTION' })
  @JoinColumn({ name: 'tenant_id' })
  tenant?: Relation<Tenant>;

  @Column({ type: 'uuid', nullable: true })
  script_id: string | null;

  @ManyToOne(() => Script, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'script_id' })
  script?: Relation<Script>;

  /** `script`, `script_version`, `hook_binding`, `script_template`, `script_parameter`, `scheduled_job`, ... */
  @Column({ type: 'varchar', length: 50, default: 'script' })
  entity_type: string;

  @Column({ type: 'uuid', nullable: true })
  entity_id: string | null;

  /** `create`, `update`, `activate`, `delete`, ... */
  @Column({ type: 'varchar', length: 100 })
  action: string;

  /** The actor's JWT `sub` (kept as text, so the trail survives the user). */
  @Column({ type: 'varchar', length: 255 })
  actor_id: string;

  @Column({ type: 'jsonb', default: {} })
  details: Record<string, unknown>;

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;
}
