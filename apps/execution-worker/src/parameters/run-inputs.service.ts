import { Injectable } from '@nestjs/common';
import { checkScriptInput, inputErrorMessage, isSealedValue, isSecretParameter, MASKED_SECRET, revealSecretInput, ScriptParameterDefinition } from '@provisio/contracts';
import { TenantDatabase } from '@provisio/persistence';
import { ScriptSecrets } from '@provisio/platform';
import { ExecutionRow, loadScriptAtVersion, SandboxRun, ScriptExecution, ScriptToRun } from '@provisio/script-execution';

/** Triggers whose `input` is the script's parameters (the other triggers' input is an event or a request). */
const PARAMETER_TRIGGERS = new Set(['manual', 'api', 'oneoff', 'cron']);

/**
 * How long a script's parameter definitions are reused for its next runs: a burst of event runs then
 * costs one query per script, not one per run. A change of the parameters applies to runs that start
 * this much later at the latest.
 */
const DEFINITIONS_TTL_MS = 2_000;
const DEFINITIONS_CACHED = 10_000;

/** Secret values shorter than this are not masked in what a run wrote (masking "a" would garble every log). */
const MIN_MASKED_LENGTH = 4;

interface ParameterRow extends ScriptParameterDefinition {
  default_value: unknown;
}

/** A run as the worker ran it: what the sandbox answered, and the version that ran (`script_version` of the record). */
export interface PreparedRun extends SandboxRun {
  scriptVersion: number;
}

/** What a run gets besides its trigger's context. */
interface RunParameters {
  /** `ctx.input`: the checked parameters for parameter triggers, the event's data or the request's body otherwise. */
  input: Record<string, unknown>;
  /** `ctx.params`: the checked parameters with their secrets opened. */
  params: Record<string, unknown>;
  /** The opened secret values, masked out of the run's output, error and logs before they are recorded. */
  secrets: string[];
}

/**
 * Everything a run gets just before it runs, for every trigger:
 *
 *  - its parameters, checked with the same `checkScriptInput` of `@provisio/contracts` (one JSON Schema per
 *    script, ajv) as the registry's run now. `manual`, `api`, `oneoff` and `cron` runs are given their
 *    parameters as their input; `event` and `http` runs are given an event or a request, so their
 *    parameters are the script's settings: their defaults, checked the same way. A run whose parameters
 *    do not fit (a required one without a value, a value its parameter no longer accepts) ends `failed`
 *    naming the parameter, without reaching the sandbox. The script sees them as `ctx.params` (and, for
 *    parameter triggers, as `ctx.input` too);
 *  - its secrets opened (SCRIPT_SECRETS_KEYS), only in the context handed to the sandbox: rows keep them
 *    sealed, and the values opened are masked out of what the run wrote (output, error, logs);
 *  - the script at the version the run is pinned to (`trigger_data.pinned_version`: a dead letter
 *    replayed with `version: "original"`), loaded from script_versions.
 */
@Injectable()
export class RunInputs {
  private readonly definitions = new Map<string, { at: number; rows: Promise<ParameterRow[]> }>();

  constructor(
    private readonly db: TenantDatabase,
    private readonly secrets: ScriptSecrets,
    private readonly runs: ScriptExecution,
  ) {}

  /** `ScriptExecution.execute` with the parameters checked and revealed and the pinned version loaded; what is refused is a failed run saying why. */
  async execute(execution: ExecutionRow, script: ScriptToRun): Promise<PreparedRun> {
    const startedAt = new Date();
    let toRun = script;
    let parameters: RunParameters;
    try {
      toRun = await this.pinnedScript(execution, script);
      parameters = await this.prepare(execution);
    } catch (error) {
      if (!(error instanceof RunRefused)) throw error;
      const completedAt = new Date();
      const result = { status: 'failed' as const, output: null, error: error.message, logs: [], metrics: { duration_ms: completedAt.getTime() - startedAt.getTime(), memory_used_bytes: 0, api_call_count: 0 } };
      return { startedAt, completedAt, result, scriptVersion: toRun.current_version };
    }
    const run = await this.runs.execute({ ...execution, input: parameters.input }, toRun, { params: parameters.params });
    return { ...maskSecrets(run, parameters.secrets), scriptVersion: toRun.current_version };
  }

  private async pinnedScript(execution: ExecutionRow, script: ScriptToRun): Promise<ScriptToRun> {
    const pinned = execution.trigger_data?.pinned_version;
    if (typeof pinned !== 'number' || !Number.isSafeInteger(pinned) || pinned === script.current_version) return script;
    const atVersion = await loadScriptAtVersion(this.db.read(execution.tenant_id), script.id, pinned);
    if (!atVersion) throw new RunRefused(`the run is pinned to version ${pinned} of the script, which is not stored`);
    return atVersion;
  }

  private async prepare(execution: ExecutionRow): Promise<RunParameters> {
    const takesParameters = PARAMETER_TRIGGERS.has(execution.trigger_type);
    const input = execution.input ?? {};
    const parameters = await this.definitionsOf(execution.tenant_id, execution.script_id);
    if (parameters.length === 0) return { input, params: takesParameters ? input : {}, secrets: [] };
    const sealedDefaults = new Map<string, string>();
    const definitions = parameters.map((p) => {
      if (!isSealedValue(p.default_value)) return { ...p, default_value: p.default_value ?? undefined };
      sealedDefaults.set(p.name, p.default_value.$sealed);
      return { ...p, default_value: undefined, has_secret_default: true };
    });
    // An event or a request carries no parameter values: the script's defaults are its settings.
    const checked = checkScriptInput(definitions, takesParameters ? input : {});
    if (!checked.ok) {
      const why = takesParameters ? "the input does not fit the script's parameters" : `the script's parameters do not fit (an ${execution.trigger_type} run takes their defaults)`;
      throw new RunRefused(`${why}: ${inputErrorMessage(checked)}`);
    }
    const owner = { tenantId: execution.tenant_id, scriptId: execution.script_id };
    let params: Record<string, unknown>;
    try {
      params = revealSecretInput(checked.input, sealedDefaults, (sealed, name) => this.secrets.open(owner, name, sealed));
    } catch (error) {
      throw new RunRefused(`a secret parameter cannot be opened: ${(error as Error).message}`);
    }
    const secrets = definitions
      .filter((d) => isSecretParameter(d) && params[d.name] !== undefined)
      .map((d) => (typeof params[d.name] === 'string' ? (params[d.name] as string) : JSON.stringify(params[d.name])))
      .filter((value) => value.length >= MIN_MASKED_LENGTH);
    return { input: takesParameters ? params : input, params, secrets };
  }

  /** The script's parameter definitions, reused for DEFINITIONS_TTL_MS (the query is shared by the runs that ask meanwhile). */
  private definitionsOf(tenantId: string, scriptId: string): Promise<ParameterRow[]> {
    const key = `${tenantId}:${scriptId}`;
    const cached = this.definitions.get(key);
    if (cached && Date.now() - cached.at < DEFINITIONS_TTL_MS) return cached.rows;
    const rows = this.db.read(tenantId).query<ParameterRow>(
      `SELECT p.name, p.type, p.required, p.default_value, p.is_secret, p.validation_rules, p.options, d.name AS depends_on, p.depends_on_condition
         FROM script_parameters p LEFT JOIN script_parameters d ON d.id = p.depends_on_parameter_id
        WHERE p.tenant_id = $1 AND p.script_id = $2 ORDER BY p.display_order, p.name`,
      [scriptId],
    );
    if (this.definitions.size >= DEFINITIONS_CACHED) this.definitions.clear();
    this.definitions.set(key, { at: Date.now(), rows });
    // A failed read is not kept: the next run asks again.
    rows.catch(() => this.definitions.get(key)?.rows === rows && this.definitions.delete(key));
    return rows;
  }
}

/** The run with every opened secret value replaced by MASKED_SECRET in its output, error and log lines. */
function maskSecrets(run: SandboxRun, secrets: string[]): SandboxRun {
  if (secrets.length === 0) return run;
  // Longest first: a secret holding another is masked whole.
  const ordered = [...secrets].sort((a, b) => b.length - a.length);
  const maskText = (text: string) => ordered.reduce((masked, secret) => masked.split(secret).join(MASKED_SECRET), text);
  const mask = (value: unknown): unknown => {
    if (typeof value === 'string') return maskText(value);
    if (Array.isArray(value)) return value.map(mask);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, inner]) => [maskText(key), mask(inner)]));
    return value;
  };
  const { result } = run;
  return {
    ...run,
    result: { ...result, output: mask(result.output), error: result.error === null ? null : maskText(result.error), logs: result.logs.map((line) => ({ ...line, message: maskText(line.message) })) },
  };
}

/** A run that must not reach the sandbox: recorded failed with this message. */
class RunRefused extends Error {}
