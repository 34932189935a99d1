import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Relation, Unique, UpdateDateColumn } from 'typeorm';
import { TEMPLATE_CATEGORIES, TemplateCategory } from '../enums';
import { checkIn } from './check';
import { Tenant } from './tenant.entity';
import { User } from './user.entity';

/** Seed 000's ScriptTemplate. `tenant_id` NULL: a system template every tenant sees. */
@Entity('script_templates')
@Check('ck_script_templates_category', checkIn('category', TEMPLATE_CATEGORIES))
@Check('ck_script_templates_system_scope', 'tenant_id IS NOT NULL OR is_system')
// UNIQUE NULLS NOT DISTINCT: two system templates cannot share a name either.
@Unique('uq_script_templates_tenant_name', ['tenant_id', 'name'])
@Index('idx_script_templates_category', ['tenant_id', 'category'])
export class ScriptTemplate {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'uuid', nullable: true })
  tenant_id: string | null;

  @ManyToOne(() => Tenant, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'tenant_id' })
  tenant?: Relation<Tenant>;

  @Column({ type: 'varchar', length: 255 })
  name: string;

  @Column({ type: 'text', nullable: true })
  description: string | null;

  @Column({ type: 'varchar', length: 50 })
  category: TemplateCategory;

  @Column({ type: 'text' })
  template_body: string;

  /** Seed 000 carries it as a JSON string; stored as JSON. */
  @Column({ type: 'jsonb', default: [] })
  placeholder_annotations: unknown;

  @Column({ type: 'boolean', default: false })
  is_system: boolean;

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
