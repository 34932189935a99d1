import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Relation, Unique, UpdateDateColumn } from 'typeorm';
import { PARAMETER_TYPES, ParameterType } from '../enums';
import { checkIn } from './check';
import { Script } from './script.entity';
import { Tenant } from './tenant.entity';

/** `script_parameters.validation_rules` (seed 004: regex, length limits, value ranges, custom rules). */
export interface ParameterValidationRules {
  pattern?: string;
  min_length?: number;
  max_length?: number;
  min?: number | string;
  max?: number | string;
  allowed_extensions?: string[];
  custom?: Record<string, unknown>;
  [extra: string]: unknown;
}

/** Seed 004's ScriptParameter: a typed, validated input of a script. */
@Entity('script_parameters')
@Check('ck_script_parameters_type', checkIn('type', PARAMETER_TYPES))
@Check('ck_script_parameters_name', "name ~ '^[A-Za-z_][A-Za-z0-9_]*$'")
@Check('ck_script_parameters_options', "type NOT IN ('select', 'multiselect') OR (options IS NOT NULL AND jsonb_typeof(options) = 'array')")
@Check('ck_script_parameters_not_self_dependent', 'depends_on_parameter_id IS NULL OR depends_on_parameter_id <> id')
@Unique('uq_script_parameters_script_name', ['script_id', 'name'])
@Index('idx_script_parameters_script', ['script_id', 'display_order'])
@Index('idx_script_parameters_tenant', ['tenant_id'])
export class ScriptParameter {
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

  /** The key in the execution's `input`. */
  @Column({ type: 'varchar', length: 100 })
  name: string;

  @Column({ type: 'varchar', length: 255, nullable: true })
  label: string | null;

  @Column({ type: 'text', nullable: true })
  description: string | null;

  @Column({ type: 'varchar', length: 20 })
  type: ParameterType;

  @Column({ type: 'boolean', default: false })
  required: boolean;

  /** A JSON value of the parameter's type; masked by the API when `is_secret`. */
  @Column({ type: 'jsonb', nullable: true })
  default_value: unknown;

  @Column({ type: 'boolean', default: false })
  is_secret: boolean;

  @Column({ type: 'jsonb', default: {} })
  validation_rules: ParameterValidationRules;

  /** For `select` / `multiselect`: `[{ value, label }]`. */
  @Column({ type: 'jsonb', nullable: true })
  options: { value: unknown; label?: string }[] | null;

  @Column({ type: 'varchar', length: 255, nullable: true })
  placeholder: string | null;

  @Column({ type: 'text', nullable: true })
  help_text: string | null;

  @Column({ type: 'varchar', length: 100, nullable: true })
  group_name: string | null;

  @Column({ type: 'boolean', default: false })
  is_advanced: boolean;

  @Column({ type: 'integer', default: 0 })
  display_order: number;

  /** Shown only when the parameter it depends on meets `depends_on_condition`. */
  @Column({ type: 'uuid', nullable: true })
  depends_on_parameter_id: string | null;

  @ManyToOne(() => ScriptParameter, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'depends_on_parameter_id' })
  depends_on_parameter?: Relation<ScriptParameter>;

  /** e.g. `{ "equals": "ldap" }` or `{ "in": ["a", "b"] }`. */
  @Column({ type: 'jsonb', nullable: true })
  depends_on_condition: Record<string, unknown> | null;

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updated_at: Date;
}
