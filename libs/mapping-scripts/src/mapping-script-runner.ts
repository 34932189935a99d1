import { Injectable } from '@nestjs/common';
import { Attributes, checkScriptedAttributes, checkScriptedBatch, MappableIdentity } from '@provisio/connectors';
import { TenantDatabase } from '@provisio/persistence';
import { ExecutionRecords, ScriptExecution, ScriptToRun } from '@provisio/script-execution';

/** `script_executions.trigger_type` of mapping runs: one of the seed's values (cron|http|event|manual|api); Provisio's API runs it. */
export const MAPPING_TRIGGER = 'api';

/** The connector a mapping script maps for (its `ctx.connector`). */
export interface MappingConnector {
  id: string;
  name: string;
  type: string;
}

/** One identity and what the declarative rules made of it. */
export interface MappingInput {
  identity: MappableIdentity;
  attributes: Attributes;
}

export interface MappingRunOptions {
  /** Recorded as the run's `trigger_data` (besides `kind: connector_mapping`): what it ran for. */
  triggerData?: Record<string, unknown>;
  /** At most this long, whatever the script's own limit says (a preview waits in an HTTP request). */
  maxExecutionTimeMs?: number;
  /** The provisioning operation it ran for: the run's `operation_id`. */
  operationId?: string;
}

export interface MappingScriptRun {
  scriptId: string;
  scriptVersion: number | null;
  executionId: string | null;
}

/**
 * A mapping script could not give final attributes. `transient`: it could not run at all (the
 * sandbox is full, other replicas hold its slots): try again later. Otherwise it ran and threw, timed
 * out or answered something that is not attributes, or the script is gone: that will not change by
 * retrying the same run. The message names the script.
 */
export class MappingScriptFailed extends Error {
  constructor(
    readonly scriptId: string,
    message: string,
    readonly transient = false,
  ) {
    super(message);
  }
}

/**
 * Runs a connector's mapping script (`mapping_script_id`, an `embedded` script) after its declarative
 * rules, through the shared script execution (ScriptExecution.run, trigger `api`, `connector_id`
 * recorded): one `script_executions` row per run. See docs/connectors.md, "Mapping script".
 *
 *  - `apply`: one identity. The script's argument (ctx) is `{ identity, attributes, connector, batch: false }`;
 *    it returns the account's final attributes (an object).
 *  - `applyMany`: many identities in one sandbox run (the reconciler's way): ctx is
 *    `{ items: [{ identity, attributes }, …], connector, batch: true }`; it returns an array, one object
 *    of attributes per item, in order.
 */
@Injectable()
export class MappingScriptRunner {
  constructor(
    private readonly db: TenantDatabase,
    private readonly records: ExecutionRecords,
    private readonly execution: ScriptExecution,
  ) {}

  async apply(tenantId: string, scriptId: string, connector: MappingConnector, input: MappingInput, options: MappingRunOptions = {}): Promise<MappingScriptRun & { attributes: Attributes }> {
    const script = await this.script(tenantId, scriptId);
    const identity = identityView(input.identity);
    const { output, run } = await this.run(script, { identity, attributes: input.attributes, connector, batch: false }, connector, { identity, attributes: input.attributes }, options);
    const checked = checkScriptedAttributes(output);
    if (!checked.ok) throw new MappingScriptFailed(scriptId, `mapping script ${scriptId} (v${run.scriptVersion ?? '?'}) answered no attributes: ${checked.reason}`);
    return { ...run, attributes: checked.attributes };
  }

  async applyMany(tenantId: string, scriptId: string, connector: MappingConnector, inputs: MappingInput[], options: MappingRunOptions = {}): Promise<MappingScriptRun & { attributes: Attributes[] }> {
    const script = await this.script(tenantId, scriptId);
    if (inputs.length === 0) return { scriptId, scriptVersion: script.current_version, executionId: null, attributes: [] };
    const items = inputs.map((input) => ({ identity: identityView(input.identity), attributes: input.attributes }));
    const { output, run } = await this.run(script, { items, connector, batch: true }, connector, { count: items.length }, { ...options, triggerData: { ...options.triggerData, batch_size: items.length } });
    const checked = checkScriptedBatch(output, inputs.length);
    if (!checked.ok) throw new MappingScriptFailed(scriptId, `mapping script ${scriptId} (v${run.scriptVersion ?? '?'}) answered no attributes: ${checked.reason}`);
    return { ...run, attributes: checked.attributes };
  }

  private async script(tenantId: string, scriptId: string): Promise<ScriptToRun> {
    const script = await this.records.loadScript(this.db.read(tenantId), scriptId);
    if (!script || script.status === 'archived') throw new MappingScriptFailed(scriptId, `mapping script ${scriptId} no longer exists (or is archived)`);
    return script;
  }

  private async run(script: ScriptToRun, context: Record<string, unknown>, connector: MappingConnector, input: unknown, options: MappingRunOptions): Promise<{ output: unknown; run: MappingScriptRun }> {
    let finished;
    try {
      finished = await this.execution.run(script, context, {
        trigger: MAPPING_TRIGGER,
        connectorId: connector.id,
        ...(options.operationId ? { operationId: options.operationId } : {}),
        input,
        triggerData: { kind: 'connector_mapping', ...options.triggerData },
        ...(options.maxExecutionTimeMs === undefined ? {} : { maxExecutionTimeMs: options.maxExecutionTimeMs }),
      });
    } catch (error) {
      throw new MappingScriptFailed(script.id, `mapping script ${script.id} could not run now: ${(error as Error).message}`, true);
    }
    const run = { scriptId: script.id, scriptVersion: finished.scriptVersion, executionId: finished.executionId };
    if (finished.result.status !== 'completed') {
      throw new MappingScriptFailed(script.id, `mapping script ${script.id} (v${run.scriptVersion ?? '?'}) ${finished.result.status}: ${finished.result.error ?? 'no error message'}`.slice(0, 2000));
    }
    return { output: finished.result.output, run };
  }
}

/** The identity as the script sees it: the store's fields, its attributes under `attributes`. */
function identityView(identity: MappableIdentity): MappableIdentity {
  return {
    id: identity.id,
    username: identity.username,
    email: identity.email ?? null,
    display_name: identity.display_name ?? null,
    status: identity.status,
    source_user_id: identity.source_user_id ?? null,
    attributes: identity.attributes ?? {},
  };
}
