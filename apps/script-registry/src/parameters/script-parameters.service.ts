import { Injectable } from '@nestjs/common';
import { checkParameterDefinitions, isSealedValue, isSecretParameter, MASKED_SECRET, scriptInputSchema, ScriptParameterDefinition, SealedValue } from '@provisio/contracts';
import { TenantDatabase, TenantScoped } from '@provisio/persistence';
import { NotFoundError, Principal, ScriptSecrets, ValidationError } from '@provisio/platform';
import { AuditService } from '../audit/audit.service';
import { lockScript } from '../common/script-lock';
import type { ParameterGroupDto, PutScriptParametersDto, ScriptParameterDto, ScriptParametersDto } from './dtos/script-parameter.dto';
import { ParameterToStore, ScriptParameterRow, ScriptParametersRepository, toDefinition } from './script-parameters.repository';

/** A row as the API answers it: a secret default is never returned, only "********". */
function toDto(row: ScriptParameterRow): ScriptParameterDto {
  return { ...row, default_value: isSealedValue(row.default_value) ? MASKED_SECRET : row.default_value };
}

function groupsOf(rows: ScriptParameterRow[]): ParameterGroupDto[] {
  const groups = new Map<string | null, string[]>();
  for (const row of rows) groups.set(row.group_name, [...(groups.get(row.group_name) ?? []), row.name]);
  return [...groups].map(([name, parameters]) => ({ name, parameters }));
}

/**
 * A script's typed parameters (seed 004): read, and replaced as a whole set. The definitions are checked
 * with `checkParameterDefinitions` of `@provisio/contracts`, the same code that derives the input schema
 * every run is checked against; secret defaults are sealed with `SCRIPT_SECRETS_KEYS` before they are
 * stored and are never answered.
 */
@Injectable()
export class ScriptParametersService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly parameters: ScriptParametersRepository,
    private readonly secrets: ScriptSecrets,
    private readonly audit: AuditService,
  ) {}

  async get(principal: Principal, scriptId: string): Promise<ScriptParametersDto> {
    const db = this.db.read(principal);
    await this.requireScript(db, scriptId);
    return this.answer(await this.parameters.list(db, scriptId));
  }

  /** The definitions runs of the script are checked against (for the executions feature). */
  async definitionsOf(db: TenantScoped, scriptId: string): Promise<ScriptParameterDefinition[]> {
    return (await this.parameters.list(db, scriptId)).map(toDefinition);
  }

  async replace(principal: Principal, scriptId: string, body: PutScriptParametersDto): Promise<ScriptParametersDto> {
    const rows = await this.db.write(principal, async (tx) => {
      await lockScript(tx, scriptId, 's.id');
      const existing = new Map((await this.parameters.list(tx, scriptId, true)).map((row) => [row.name, row]));
      const seen = new Set<string>();
      const toStore: ParameterToStore[] = body.parameters.map((p, i) => {
        if (seen.has(p.name)) throw new ValidationError(`parameters.${i}.name ${p.name} is given twice`, `parameters.${i}.name`);
        seen.add(p.name);
        return {
          name: p.name,
          label: p.label ?? null,
          description: p.description ?? null,
          type: p.type,
          required: p.required ?? false,
          default_value: p.default_value ?? null,
          is_secret: isSecretParameter({ type: p.type, is_secret: p.is_secret ?? false }),
          validation_rules: p.validation_rules ?? {},
          options: p.options?.map((o) => ({ value: o.value, ...(o.label !== undefined ? { label: o.label } : {}) })) ?? null,
          placeholder: p.placeholder ?? null,
          help_text: p.help_text ?? null,
          group_name: p.group_name ?? null,
          is_advanced: p.is_advanced ?? false,
          display_order: p.display_order ?? i,
          depends_on: p.depends_on ?? null,
          depends_on_condition: p.depends_on_condition ?? null,
        };
      });
      // "********" for a secret default means "keep the stored one" (what GET answered); checked as absent.
      const kept = new Map<string, SealedValue>();
      for (const p of toStore) {
        const before = existing.get(p.name);
        if (p.is_secret && p.default_value === MASKED_SECRET) {
          if (before && isSealedValue(before.default_value) && before.is_secret) kept.set(p.name, before.default_value);
          p.default_value = null;
        }
      }
      const problem = checkParameterDefinitions(toStore.map((p) => ({ ...toDefinition(p), has_secret_default: kept.has(p.name) })));
      if (problem) throw new ValidationError(`${problem.field} ${problem.message}`, problem.field);
      for (const p of toStore) {
        if (!p.is_secret) continue;
        if (p.default_value !== null) p.default_value = { $sealed: this.secrets.seal({ tenantId: principal.tenantId, scriptId }, p.name, p.default_value) } satisfies SealedValue;
        else if (kept.has(p.name)) p.default_value = kept.get(p.name)!;
      }
      await this.parameters.replace(tx, scriptId, toStore);
      // Names and types only: values (and secrets above all) never reach the audit trail.
      await this.audit.record(tx, {
        script_id: scriptId,
        entity_type: 'script',
        entity_id: scriptId,
        action: 'update_parameters',
        details: { parameters: toStore.map((p) => ({ name: p.name, type: p.type, required: p.required, is_secret: p.is_secret })), removed: [...existing.keys()].filter((name) => !seen.has(name)) },
      });
      return this.parameters.list(tx, scriptId);
    });
    return this.answer(rows);
  }

  private answer(rows: ScriptParameterRow[]): ScriptParametersDto {
    return { parameters: rows.map(toDto), groups: groupsOf(rows), input_schema: scriptInputSchema(rows.map(toDefinition)) };
  }

  private async requireScript(db: TenantScoped, scriptId: string): Promise<void> {
    const found = await db.one('SELECT 1 FROM scripts WHERE tenant_id = $1 AND id = $2', [scriptId]);
    if (!found) throw new NotFoundError('script', scriptId);
  }
}
