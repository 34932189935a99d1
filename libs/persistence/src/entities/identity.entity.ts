import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Relation, Unique, UpdateDateColumn } from 'typeorm';
import { IDENTITY_STATUSES, IdentityStatus } from '../enums';
import { checkIn } from './check';
import { Tenant } from './tenant.entity';

/** The identity store: seed 002's "xavyo" side of provisioning and reconciliation (`user_id`, `identity_id`). */
@Entity('identities')
@Check('ck_identities_status', checkIn('status', IDENTITY_STATUSES))
@Unique('uq_identities_tenant_username', ['tenant_id', 'username'])
@Index('uq_identities_tenant_source_user', ['tenant_id', 'source_user_id'], { unique: true, where: 'source_user_id IS NOT NULL' })
@Index('idx_identities_tenant_status', ['tenant_id', 'status'])
@Index('idx_identities_tenant_email', ['tenant_id', 'email'], { where: 'email IS NOT NULL' })
@Index('idx_identities_tenant_updated', ['tenant_id', 'updated_at'])
export class Identity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'uuid' })
  tenant_id: string;

  @ManyToOne(() => Tenant, { onDelete: 'NO ACTION' })
  @JoinColumn({ name: 'tenant_id' })
  tenant?: Relation<Tenant>;

  @Column({ type: 'varchar', length: 255 })
  username: string;

  @Column({ type: 'varchar', length: 320, nullable: true })
  email: string | null;

  @Column({ type: 'varchar', length: 255, nullable: true })
  display_name: string | null;

  @Column({ type: 'varchar', length: 20, default: 'active' })
  status: IdentityStatus;

  @Column({ type: 'jsonb', default: {} })
  attributes: Record<string, unknown>;

  /** The upstream system's id of this user: `data.user_id` of domain events. */
  @Column({ type: 'varchar', length: 255, nullable: true })
  source_user_id: string | null;

  /** The upstream version of the last domain event applied (`data.version`), when the upstream sends one. */
  @Column({ type: 'bigint', nullable: true })
  source_version: string | null;

  /** The CloudEvent `time` of the last domain event applied: an older event is ignored. */
  @Column({ type: 'timestamptz', nullable: true })
  source_event_time: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updated_at: Date;
}
