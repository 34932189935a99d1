import { Check, Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { TENANT_STATUSES, TenantStatus } from '../enums';
import { checkIn } from './check';

/** A tenant: every other row carries its `tenant_id`. */
@Entity('tenants')
@Check('ck_tenants_status', checkIn('status', TENANT_STATUSES))
@Check('ck_tenants_slug', "slug ~ '^[a-z0-9][a-z0-9-]*$'")
export class Tenant {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'varchar', length: 255 })
  name: string;

  @Column({ type: 'varchar', length: 100, unique: true })
  slug: string;

  @Column({ type: 'varchar', length: 50, default: 'active' })
  status: TenantStatus;

  @Column({ type: 'jsonb', default: {} })
  settings: Record<string, unknown>;

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updated_at: Date;
}
