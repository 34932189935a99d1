import { Injectable } from '@nestjs/common';
import { isSealedValue, ScriptParameterDefinition, ScriptParameterType } from '@provisio/contracts';
import type { TenantScoped, TenantTransaction } from '@provisio/persistence';
import { toStorableJson } from '@provisio/platform';

/** A `script_parameters` row as the registry reads it, with the name of the parameter it depends on. */
export interface ScriptParameterRow {
  id: string;
  script_id: string;
  tenant_id: string;
  name: string;
  label: string | null;
  description: string | null;
  type: ScriptParameterType;
  required: boolean;
  /** `{ "$sealed": … }` for a secret parameter's default. */
  default_value: unknown;
  is_secret: boolean;
  validation_rules: Record<string, unknown>;
  options: { value: unknown; label?: string }[] | null;
  placeholder: string | null;
  help_text: string | null;
  group_name: string | null;
  is_advanced: boolean;
  display_order: number;
  depends_on_parameter_id: string | null;
  depends_on: string | null;
  depends_on_condition: Record<string, unknown> | null;
  created_at: Date;
  updated_at: Date;
}

/** A parameter to store: the row's columns, dependencies by name (resolved to ids here). */
export type ParameterToStore = Omit<ScriptParameterRow, 'id' | 'script_id' | 'tenant_id' | 'depends_on_parameter_id' | 'created_at' | 'updated_at'>;

const COLUMNS = `p.id, p.script_id, p.tenant_id, p.name, p.label, p.description, p.type, p.required, p.default_value, p.is_secret,
  p.validation_rules, p.options, p.placeholder, p.help_text, p.group_name, p.is_advanced, p.display_order,
  p.depends_on_parameter_id, d.name AS depends_on, p.depends_on_condition, p.created_at, p.updated_at`;

/** What validation needs of a row: a secret default stays sealed (only `has_secret_default` is said). */
export function toDefinition(row: Pick<ScriptParameterRow, 'name' | 'type' | 'required' | 'default_value' | 'is_secret' | 'validation_rules' | 'options' | 'depends_on' | 'depends_on_condition'>): ScriptParameterDefinition {
  const sealed = isSealedValue(row.default_value);
  return {
    name: row.name,
    type: row.type,
    required: row.required,
    default_value: sealed ? undefined : (row.default_value ?? undefined),
    has_secret_default: sealed,
    is_secret: row.is_secret,
    validation_rules: row.validation_rules ?? {},
    options: row.options,
    depends_on: row.depends_on,
    depends_on_condition: row.depends_on_condition,
  };
}

/** Every statement of `script_parameters` in the registry. */
@Injectable()
export class ScriptParametersRepository {
  async list(db: TenantScoped, scriptId: string, lock = false): Promise<ScriptParameterRow[]> {
    return db.query<ScriptParameterRow>(
      `SELECT ${COLUMNS} FROM script_parameters p LEFT JOIN script_parameters d ON d.id = p.depends_on_parameter_id
        WHERE p.tenant_id = $1 AND p.script_id = $2 ORDER BY p.display_order, p.name${lock ? ' FOR UPDATE OF p' : ''}`,
      [scriptId],
    );
  }

  /**
   * Replaces the script's set: rows are kept by name (their ids stay), new ones inserted, the rest
   * deleted; then dependencies are resolved by name. The caller holds the script's lock.
   */
  async replace(tx: TenantTransaction, scriptId: string, parameters: ParameterToStore[]): Promise<void> {
    const data = parameters.map((p) => ({ ...p, depends_on: undefined }));
    await tx.query(
      `DELETE FROM script_parameters WHERE tenant_id = $1 AND script_id = $2 AND NOT (name = ANY($3::text[]))`,
      [scriptId, parameters.map((p) => p.name)],
    );
    if (parameters.length === 0) return;
    await tx.query(
      `INSERT INTO script_parameters (tenant_id, script_id, name, label, description, type, required, default_value, is_secret, validation_rules,
              options, placeholder, help_text, group_name, is_advanced, display_order, depends_on_parameter_id, depends_on_condition)
       SELECT $1, $2, d.name, d.label, d.description, d.type, d.required, d.default_value, d.is_secret, COALESCE(d.validation_rules, '{}'::jsonb),
              d.options, d.placeholder, d.help_text, d.group_name, d.is_advanced, d.display_order, NULL, d.depends_on_condition
         FROM jsonb_to_recordset($3::jsonb) AS d(name text, label text, description text, type text, required boolean, default_value jsonb, is_secret boolean,
              validation_rules jsonb, options jsonb, placeholder text, help_text text, group_name text, is_advanced boolean, display_order int, depends_on_condition jsonb)
       ON CONFLICT (script_id, name) DO UPDATE SET
              label = EXCLUDED.label, description = EXCLUDED.description, type = EXCLUDED.type, required = EXCLUDED.required,
              default_value = EXCLUDED.default_value, is_secret = EXCLUDED.is_secret, validation_rules = EXCLUDED.validation_rules,
              options = EXCLUDED.options, placeholder = EXCLUDED.placeholder, help_text = EXCLUDED.help_text, group_name = EXCLUDED.group_name,
              is_advanced = EXCLUDED.is_advanced, display_order = EXCLUDED.display_order, depends_on_parameter_id = NULL,
              depends_on_condition = EXCLUDED.depends_on_condition, updated_at = now()`,
      [scriptId, toStorableJson(data)],
    );
    const dependencies = parameters.filter((p) => p.depends_on).map((p) => ({ name: p.name, depends_on: p.depends_on }));
    if (dependencies.length === 0) return;
    await tx.query(
      `UPDATE script_parameters p SET depends_on_parameter_id = d.id
         FROM jsonb_to_recordset($3::jsonb) AS x(name text, depends_on text)
         JOIN script_parameters d ON d.script_id = $2 AND d.name = x.depends_on
        WHERE p.tenant_id = $1 AND p.script_id = $2 AND p.name = x.name`,
      [scriptId, toStorableJson(dependencies)],
    );
  }
}
