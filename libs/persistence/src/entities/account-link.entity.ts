import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Relation, Unique } from 'typeorm';
import { Connector } from './connector.entity';
import { Identity } from './identity.entity';
import { Tenant } from './tenant.entity';

/** Which account of a target system belongs to which identity (what reconciliation compares). */
@Entity('account_links')
@Unique('uq_account_links_external', ['connector_id', 'object_class', 'external_uid'])
@Unique('uq_account_links_identity', ['identity_id', 'connector_id', 'object_class'])
@Index('idx_account_links_tenant_connector', ['tenant_id', 'connector_id'])
export class AccountLink {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'uuid' })
  tenant_id: string;

  @ManyToOne(() => Tenant, { onDelete: 'NO ACTION' })
  @JoinColumn({ name: 'tenant_id' })
  tenant?: Relation<Tenant>;

  @Column({ type: 'uuid' })
  identity_id: string;

  @ManyToOne(() => Identity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'identity_id' })
  identity?: Relation<Identity>;

  @Column({ type: 'uuid' })
  connector_id: string;

  @ManyToOne(() => Connector, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'connector_id' })
  connector?: Relation<Connector>;

  @Column({ type: 'varchar', length: 100, default: 'account' })
  object_class: string;

  @Column({ type: 'varchar', length: 500 })
  external_uid: string;

  /** Hash of the attributes last written or read, to skip unchanged accounts in delta runs. */
  @Column({ type: 'varchar', length: 128, nullable: true })
  attributes_hash: string | null;

  @Column({ type: 'timestamptz', nullable: true })
  last_synced_at: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  linked_at: Date;
}
