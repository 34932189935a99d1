import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Relation, Unique, UpdateDateColumn } from 'typeorm';
import { CONNECTOR_STATUSES, CONNECTOR_TYPES, ConnectorStatus, ConnectorType } from '../enums';
import { checkIn } from './check';
import { Script } from './script.entity';
import { Tenant } from './tenant.entity';

/** A target system (seed 002's Connector). Credentials are AES-GCM ciphertext: never logged or returned. */
@Entity('connectors')
@Check('ck_connectors_type', checkIn('type', CONNECTOR_TYPES))
@Check('ck_connectors_status', checkIn('status', CONNECTOR_STATUSES))
@Unique('uq_connectors_tenant_name', ['tenant_id', 'name'])
@Index('idx_connectors_tenant_status', ['tenant_id', 'status'])
@Index('idx_connectors_mapping_script', ['mapping_script_id'], { where: 'mapping_script_id IS NOT NULL' })
@Check('ck_connectors_attribute_mapping', "jsonb_typeof(attribute_mapping) = 'array'")
@Check('ck_connectors_provisioning_policy', "jsonb_typeof(provisioning_policy) = 'object'")
export class Connector {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'uuid' })
  tenant_id: string;

  @ManyToOne(() => Tenant, { onDelete: 'NO ACTION' })
  @JoinColumn({ name: 'tenant_id' })
  tenant?: Relation<Tenant>;

  @Column({ type: 'varchar', length: 255 })
  name: string;

  @Column({ type: 'varchar', length: 20 })
  type: ConnectorType;

  /** Non-secret settings (base URL, base DN, table names, attribute mappings). */
  @Column({ type: 'jsonb', default: {} })
  config: Record<string, unknown>;

  @Column({ type: 'text', nullable: true, select: false })
  credentials_encrypted: string | null;

  @Column({ type: 'varchar', length: 20, default: 'active' })
  status: ConnectorStatus;

  /** Identity attribute → target attribute rules (libs/connectors `attributeMappingSchema`). */
  @Column({ type: 'jsonb', default: [] })
  attribute_mapping: unknown[];

  /** Which identities the connector gets (libs/connectors `provisioningPolicySchema`; `{}`: all but deleted ones). */
  @Column({ type: 'jsonb', default: {} })
  provisioning_policy: Record<string, unknown>;

  /** An embedded script that maps after the declarative rules. */
  @Column({ type: 'uuid', nullable: true })
  mapping_script_id: string | null;

  @ManyToOne(() => Script, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'mapping_script_id' })
  mapping_script?: Relation<Script>;

  /** Why the connector is in `error`. */
  @Column({ type: 'text', nullable: true })
  last_error: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updated_at: Date;
}
