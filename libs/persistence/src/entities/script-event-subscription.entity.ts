import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Relation, Unique } from 'typeorm';
import { Script } from './script.entity';
import { Tenant } from './tenant.entity';

/** Seed 001: which event types route to which script. */
@Entity('script_event_subscriptions')
@Unique('uq_subs_script_event', ['script_id', 'event_type'])
@Index('idx_event_subs_tenant_event', ['tenant_id', 'event_type'], { where: 'is_active = true' })
@Index('idx_event_subs_script', ['script_id'])
export class ScriptEventSubscription {
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

  @Column({ type: 'varchar', length: 255 })
  event_type: string;

  @Column({ type: 'boolean', nullable: true, default: true })
  is_active: boolean | null;

  @CreateDateColumn({ type: 'timestamptz', nullable: true })
  created_at: Date | null;
}
