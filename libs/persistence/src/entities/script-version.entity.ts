import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Relation, Unique } from 'typeorm';
import { Script } from './script.entity';
import { Tenant } from './tenant.entity';
import { User } from './user.entity';

/** Seed 001's immutable source snapshots (seed 000's ScriptVersion: `script_body` is `source`). */
@Entity('script_versions')
@Unique('uq_versions_script_number', ['script_id', 'version_number'])
@Index('idx_versions_script', ['script_id'])
@Index('idx_versions_tenant', ['tenant_id'])
@Index('uq_versions_script_semver', ['script_id', 'semantic_version'], { unique: true, where: 'semantic_version IS NOT NULL' })
@Index('idx_versions_script_created', { synchronize: false })
export class ScriptVersion {
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

  @Column({ type: 'integer' })
  version_number: number;

  @Column({ type: 'text' })
  source: string;

  @Column({ type: 'text', nullable: true })
  change_description: string | null;

  @CreateDateColumn({ type: 'timestamptz', nullable: true })
  created_at: Date | null;

  @Column({ type: 'integer', nullable: true })
  created_by: number | null;

  @ManyToOne(() => User, { onDelete: 'NO ACTION' })
  @JoinColumn({ name: 'created_by' })
  creator?: Relation<User>;

  // ---- seed 004 ----
  @Column({ type: 'varchar', length: 64, nullable: true })
  source_sha256: string | null;

  /** Optional semantic version label (`1.4.0`), unique per script. */
  @Column({ type: 'varchar', length: 50, nullable: true })
  semantic_version: string | null;
}
