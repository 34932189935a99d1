import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Relation, Unique, UpdateDateColumn } from 'typeorm';
import { SCRIPT_STATUSES, SCRIPT_TYPES, ScriptStatus, ScriptType } from '../enums';
import { checkIn } from './check';
import { Organization } from './organization.entity';
import { ScriptTemplate } from './script-template.entity';
import { Tenant } from './tenant.entity';
import { User } from './user.entity';

/** `scripts.resource_limits`: what the sandbox enforces on every run (seed 001's default below). */
export interface ResourceLimits {
  max_execution_time_ms: number;
  max_memory_bytes: number;
  max_concurrent_runs: number;
  max_api_calls_per_minute: number;
  max_output_size_bytes: number;
  [extra: string]: number;
}

export const DEFAULT_RESOURCE_LIMITS: Readonly<ResourceLimits> = {
  max_execution_time_ms: 30000,
  max_memory_bytes: 67108864,
  max_concurrent_runs: 5,
  max_api_calls_per_minute: 60,
  max_output_size_bytes: 1048576,
};

/**
 * One table for seed 001's runtime scripts and seed 000's provisioning scripts (type `embedded`, run
 * as hooks through `hook_bindings`). Seed 000's `script_body` is `source`; its `inactive` is `disabled`.
 */
@Entity('scripts')
@Check('scripts_type_check', checkIn('type', SCRIPT_TYPES))
@Check('scripts_status_check', checkIn('status', SCRIPT_STATUSES))
@Check('ck_scripts_current_version', 'current_version >= 0')
@Unique('uq_scripts_tenant_name', ['tenant_id', 'name'])
@Unique('uq_scripts_tenant_http_path', ['tenant_id', 'http_path'])
@Index('idx_scripts_tenant_status', ['tenant_id', 'status'])
@Index('idx_scripts_tenant_type_status', ['tenant_id', 'type', 'status'])
@Index('idx_scripts_http_path', ['tenant_id', 'http_path'], { where: 'http_path IS NOT NULL' })
@Index('idx_scripts_cron', ['tenant_id', 'cron_expression'], { where: 'cron_expression IS NOT NULL' })
// GIN and expression indexes: TypeORM cannot describe them; the migration owns them.
@Index('idx_scripts_event_types', { synchronize: false })
@Index('idx_scripts_metadata', { synchronize: false })
@Index('idx_scripts_tags', { synchronize: false })
@Index('idx_scripts_fulltext', { synchronize: false })
export class Script {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'uuid' })
  tenant_id: string;

  @ManyToOne(() => Tenant, { onDelete: 'NO ACTION' })
  @JoinColumn({ name: 'tenant_id' })
  tenant?: Relation<Tenant>;

  @Column({ type: 'uuid' })
  organization_id: string;

  @ManyToOne(() => Organization, { onDelete: 'NO ACTION' })
  @JoinColumn({ name: 'organization_id' })
  organization?: Relation<Organization>;

  @Column({ type: 'varchar', length: 255 })
  name: string;

  @Column({ type: 'text', nullable: true })
  description: string | null;

  /** Seed 000: `script_body`. */
  @Column({ type: 'text' })
  source: string;

  @Column({ type: 'varchar', length: 50 })
  type: ScriptType;

  @Column({ type: 'varchar', length: 50 })
  status: ScriptStatus;

  @Column({ type: 'jsonb', default: DEFAULT_RESOURCE_LIMITS })
  resource_limits: ResourceLimits;

  @Column({ type: 'varchar', length: 255, nullable: true })
  cron_expression: string | null;

  @Column({ type: 'varchar', length: 500, nullable: true })
  http_path: string | null;

  @Column({ type: 'text', array: true, nullable: true })
  http_methods: string[] | null;

  @Column({ type: 'text', array: true, nullable: true })
  event_types: string[] | null;

  @Column({ type: 'jsonb', nullable: true, default: {} })
  metadata: Record<string, unknown> | null;

  @Column({ type: 'text', array: true, nullable: true, default: () => 'ARRAY[]::text[]' })
  tags: string[] | null;

  @CreateDateColumn({ type: 'timestamptz', nullable: true })
  created_at: Date | null;

  @UpdateDateColumn({ type: 'timestamptz', nullable: true })
  updated_at: Date | null;

  @Column({ type: 'integer', nullable: true })
  created_by: number | null;

  @ManyToOne(() => User, { onDelete: 'NO ACTION' })
  @JoinColumn({ name: 'created_by' })
  creator?: Relation<User>;

  // ---- seed 000 ----
  /** Number of the version that is live (0 before the first version). */
  @Column({ type: 'integer', default: 0 })
  current_version: number;

  /** System-managed: cannot be deleted. */
  @Column({ type: 'boolean', default: false })
  is_system: boolean;

  // ---- seed 004 ----
  @Column({ type: 'integer', nullable: true })
  updated_by: number | null;

  @ManyToOne(() => User, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'updated_by' })
  updater?: Relation<User>;

  /** The template this script was created from. */
  @Column({ type: 'uuid', nullable: true })
  template_id: string | null;

  @ManyToOne(() => ScriptTemplate, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'template_id' })
  template?: Relation<ScriptTemplate>;

  /** Permissions a caller needs, besides `script:execute`, to run this script. */
  @Column({ type: 'text', array: true, default: [] })
  required_permissions: string[];

  /** Hex SHA-256 of `source` (seed 004's file integrity check), verified before a run. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  source_sha256: string | null;
}
