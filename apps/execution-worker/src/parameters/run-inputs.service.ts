import { Injectable } from '@nestjs/common';
import { checkScriptInput, inputErrorMessage, isSealedValue, revealSecretInput, ScriptParameterDefinition } from '@provisio/contracts';
import { TenantDatabase } from '@provisio/persistence';
import { ScriptSecrets } from '@provisio/platform';
import { ExecutionRow, SandboxRun, ScriptExecution, ScriptToRun } from '@provisio/script-execution';

/** Triggers whose `input` is the script's parameters (the other triggers' input is an event or a request). */
const PARAMETER_TRIGGERS = new Set(['manual', 'api', 'oneoff', 'cron']);

interface ParameterRow extends ScriptParameterDefinition {
  default_value: unknown;
}

/**
 * The input a run gets, just before it runs: checked against the script's parameters (the same
 * `checkScriptInput` of `@provisio/contracts` as the registry, so a scheduled run whose parameters
 * changed since fails naming the parameter instead of running with a wrong input) and with its secret
 * values opened (SCRIPT_SECRETS_KEYS). Secrets exist in the clear only in the context handed to the
 * sandbox: the row keeps them sealed, and the record of the run is made from the row.
 */
@Injectable()
export class RunInputs {
  constructor(
    private readonly db: TenantDatabase,
    private readonly secrets: ScriptSecrets,
    private readonly runs: ScriptExecution,
  ) {}

  /** `ScriptExecution.execute` with the input checked and revealed; a wrong input is a failed run naming the parameter. */
  async execute(execution: ExecutionRow, script: ScriptToRun): Promise<SandboxRun> {
    if (!PARAMETER_TRIGGERS.has(execution.trigger_type)) return this.runs.execute(execution, script);
    const startedAt = new Date();
    try {
      const input = await this.prepare(execution);
      return await this.runs.execute({ ...execution, input }, script);
    } catch (error) {
      if (!(error instanceof InputRefused)) throw error;
      const completedAt = new Date();
      return { startedAt, completedAt, result: { status: 'failed', output: null, error: error.message, logs: [], metrics: { duration_ms: completedAt.getTime() - startedAt.getTime(), memory_used_bytes: 0, api_call_count: 0 } } };
    }
  }

  private async prepare(execution: ExecutionRow): Promise<Record<string, unknown>> {
    const parameters = await this.db
      .read(execution.tenant_id)
      .query<ParameterRow>(
        `SELECT p.name, p.type, p.required, p.default_value, p.is_secret, p.validation_rules, p.options, d.name AS depends_on, p.depends_on_condition
           FROM script_parameters p LEFT JOIN script_parameters d ON d.id = p.depends_on_parameter_id
          WHERE p.tenant_id = $1 AND p.script_id = $2 ORDER BY p.display_order, p.name`,
        [execution.script_id],
      );
    if (parameters.length === 0) return execution.input;
    const sealedDefaults = new Map<string, string>();
    const definitions = parameters.map((p) => {
      if (!isSealedValue(p.default_value)) return { ...p, default_value: p.default_value ?? undefined };
      sealedDefaults.set(p.name, p.default_value.$sealed);
      return { ...p, default_value: undefined, has_secret_default: true };
    });
    const checked = checkScriptInput(definitions, execution.input ?? {});
    if (!checked.ok) throw new InputRefused(`the input does not fit the script's parameters: ${inputErrorMessage(checked)}`);
    const owner = { tenantId: execution.tenant_id, scriptId: execution.script_id };
    try {
      return revealSecretInput(checked.input, sealedDefaults, (sealed, name) => this.secrets.open(owner, name, sealed));
    } catch (error) {
      throw new InputRefused(`a secret parameter cannot be opened: ${(error as Error).message}`);
    }
  }
}

class InputRefused extends Error {}
