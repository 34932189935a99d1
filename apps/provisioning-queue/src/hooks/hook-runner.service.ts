import { Injectable } from '@nestjs/common';
import type { Attributes } from '@provisio/connectors';
import type { HookBinding, TenantScoped } from '@provisio/persistence';
import { TenantDatabase } from '@provisio/persistence';
import { loadScriptAtVersion, ScriptExecution, SCRIPT_TO_RUN_COLUMNS, SCRIPT_TO_RUN_JOINS, ScriptToRun, SkippedScriptRun } from '@provisio/script-execution';
import type { HookOperation, HookVersionsMode } from '../operations/operation-plan';

export type HookPhase = 'before' | 'after';

/** A binding with the script it runs, as one statement reads them. */
export type BoundHook = Pick<HookBinding, 'execution_order' | 'failure_policy' | 'max_retries' | 'timeout_seconds'> & ScriptToRun & { binding_id: string; script_status: string };

/** What a hook sees (the script's `ctx`). */
export interface HookContext {
  phase: HookPhase;
  operation: { id: string; type: string; hook_operation: HookOperation; object_class: string; target_uid: string | null; attributes: Attributes; enabled?: boolean };
  identity: Record<string, unknown> | null;
  connector: { id: string; name: string; type: string };
  /** After hooks: what the connector call did. */
  result?: { uid: string | null; message: string };
}

/** Where the before hooks leave the operation. */
export type BeforeOutcome = { kind: 'proceed'; attributes: Attributes } | { kind: 'skip'; reason: string } | { kind: 'fail'; reason: string };

/** One line of the operation's log per hook run. */
export type HookLog = { level: 'info' | 'warn' | 'error'; message: string };

/** The hooks of an operation could not run at all (the sandbox is full, a lease is held elsewhere): the operation is retried later. */
export class HooksUnavailable extends Error {}

/**
 * Which script version each binding of an operation runs. `original` (the default): a binding that has
 * run on this operation runs the version of its last run there (`pinned`), one that never ran its live
 * version; `latest`: every binding its live version.
 */
export interface HookVersions {
  mode: HookVersionsMode;
  pinned: ReadonlyMap<string, number>;
}

export const LIVE_HOOK_VERSIONS: HookVersions = { mode: 'latest', pinned: new Map() };

const BINDINGS_TTL_MS = 2_000;
const VERSION_CACHE_SIZE = 1_000;

type PolicyOutcome = { kind: 'ok'; output: unknown } | { kind: 'continued' } | { kind: 'abort'; reason: string };

/**
 * Runs the hook bindings of a connector and operation type around the connector call, in the same
 * process, through the shared script execution (`ScriptExecution.run`, trigger `hook`): every run is a
 * `script_executions` row with `binding_id`, `connector_id`, `script_version`, `operation_id` (written
 * with the row) and its status (completed, failed, timeout). A hook that does not run because an earlier
 * step ended the chain (a before hook aborted, skipped or failed the operation, the connector call
 * failed, an after hook aborted) is a row too, `skipped`, with why in `error`: the operation's rows show
 * its whole chain on every attempt.
 *
 * Before hooks run in `execution_order`; each gets the operation's attributes as the previous one
 * left them and may answer:
 *  - nothing (undefined/null): the attributes stay as they are;
 *  - `{ skip: true, reason? }`: the operation completes without a call to the target;
 *  - `{ fail: "why" }`: the operation fails permanently (dead letter);
 *  - `{ attributes: {...} }`, or any other object: the new attributes (the next hook's input).
 * After hooks see the connector's `result`; what they answer is ignored.
 *
 * A run that fails or times out is handled by the binding's `failure_policy`: `abort` fails the
 * operation (permanently), `continue` logs it and goes on with the attributes as they were, `retry`
 * runs the hook again up to `max_retries` times, then aborts. `timeout_seconds` bounds each run.
 *
 * Versions (HookVersions): a retried operation runs each hook at the version it ran before (the source
 * of that version, from `script_versions`), unless the operation asks for the live ones.
 */
@Injectable()
export class HookRunner {
  private readonly cache = new Map<string, { at: number; hooks: Promise<BoundHook[]> }>();
  /** Sources of stored versions (immutable), by `script:version`. */
  private readonly versionSources = new Map<string, string>();

  constructor(
    private readonly db: TenantDatabase,
    private readonly execution: ScriptExecution,
  ) {}

  async bindings(tenantId: string, connectorId: string, operation: HookOperation, phase: HookPhase): Promise<BoundHook[]> {
    const key = `${tenantId}:${connectorId}:${operation}:${phase}`;
    const cached = this.cache.get(key);
    if (cached && Date.now() - cached.at < BINDINGS_TTL_MS) return cached.hooks;
    const hooks = this.load(this.db.read(tenantId), connectorId, operation, phase);
    this.cache.set(key, { at: Date.now(), hooks });
    hooks.catch(() => this.cache.delete(key));
    if (this.cache.size > 10_000) this.cache.clear();
    return hooks;
  }

  private load(db: TenantScoped, connectorId: string, operation: HookOperation, phase: HookPhase): Promise<BoundHook[]> {
    return db.query<BoundHook>(
      `SELECT c.id AS binding_id, s.id, s.tenant_id, s.status, c.execution_order, c.failure_policy, c.max_retries, c.timeout_seconds, ${SCRIPT_TO_RUN_COLUMNS}
         FROM hook_bindings c ${SCRIPT_TO_RUN_JOINS}
        WHERE c.tenant_id = $1 AND c.connector_id = $2 AND c.operation_type = $3 AND c.hook_phase = $4 AND c.enabled AND s.status = 'active'
        ORDER BY c.execution_order, c.id`,
      [connectorId, operation, phase],
    );
  }

  /** Whether the operation has hooks of either phase (the runner builds a context only then). */
  async any(tenantId: string, connectorId: string, operation: HookOperation): Promise<boolean> {
    const [before, after] = await Promise.all([this.bindings(tenantId, connectorId, operation, 'before'), this.bindings(tenantId, connectorId, operation, 'after')]);
    return before.length + after.length > 0;
  }

  /**
   * The versions the hooks of an operation run at: with `original`, the version of each binding's last
   * run on the operation (its `script_executions` rows; skipped rows ran nothing and do not count).
   */
  async versionsOf(tenantId: string, operationId: string, mode: HookVersionsMode = 'original'): Promise<HookVersions> {
    if (mode === 'latest') return LIVE_HOOK_VERSIONS;
    const rows = await this.db.read(tenantId).query<{ binding_id: string; script_version: number }>(
      `SELECT DISTINCT ON (binding_id) binding_id, script_version FROM script_executions
        WHERE tenant_id = $1 AND operation_id = $2 AND trigger_type = 'hook' AND binding_id IS NOT NULL AND script_version IS NOT NULL AND status <> 'skipped'
        ORDER BY binding_id, started_at DESC, id`,
      [operationId],
    );
    return { mode, pinned: new Map(rows.map((r) => [r.binding_id, r.script_version])) };
  }

  async before(tenantId: string, context: HookContext, logs: HookLog[], versions: HookVersions = LIVE_HOOK_VERSIONS): Promise<BeforeOutcome> {
    let attributes = context.operation.attributes;
    const hooks = await this.bindings(tenantId, context.connector.id, context.operation.hook_operation, 'before');
    const stop = async (index: number, outcome: BeforeOutcome & { kind: 'skip' | 'fail' }, why: string): Promise<BeforeOutcome> => {
      const at = { ...context, operation: { ...context.operation, attributes } };
      await this.skip(tenantId, at, hooks.slice(index + 1), why, versions, logs);
      await this.skipAfter(tenantId, at, why, versions, logs);
      return outcome;
    };
    for (const [index, hook] of hooks.entries()) {
      let run: PolicyOutcome;
      try {
        run = await this.runWithPolicy(await this.atVersion(hook, versions, logs), { ...context, operation: { ...context.operation, attributes } }, logs);
      } catch (error) {
        if (error instanceof HooksUnavailable) await stop(index - 1, { kind: 'fail', reason: error.message }, error.message);
        throw error;
      }
      if (run.kind === 'abort') return stop(index, { kind: 'fail', reason: run.reason }, run.reason);
      if (run.kind === 'continued') continue;
      const output = run.output;
      if (output === null || output === undefined) continue;
      if (typeof output !== 'object' || Array.isArray(output)) {
        logs.push({ level: 'warn', message: `before hook ${hook.binding_id} answered neither an object nor nothing: ignored` });
        continue;
      }
      const answer = output as Record<string, unknown>;
      if (answer.skip === true) {
        const reason = typeof answer.reason === 'string' ? answer.reason : `skipped by before hook ${hook.binding_id}`;
        return stop(index, { kind: 'skip', reason }, `before hook ${hook.binding_id} skipped the operation: ${reason}`);
      }
      if (typeof answer.fail === 'string') {
        const reason = `before hook ${hook.binding_id}: ${answer.fail}`;
        return stop(index, { kind: 'fail', reason }, `${reason} (the operation failed)`);
      }
      const next = answer.attributes !== undefined ? answer.attributes : answer;
      if (next === null || typeof next !== 'object' || Array.isArray(next)) {
        logs.push({ level: 'warn', message: `before hook ${hook.binding_id} answered attributes that are not an object: ignored` });
        continue;
      }
      attributes = next as Attributes;
      logs.push({ level: 'info', message: `before hook ${hook.binding_id} set the attributes (${Object.keys(attributes).join(', ')})` });
    }
    return { kind: 'proceed', attributes };
  }

  /** Runs the after hooks; answers why the operation must fail (an `abort` hook failed), or null. */
  async after(tenantId: string, context: HookContext, logs: HookLog[], versions: HookVersions = LIVE_HOOK_VERSIONS): Promise<string | null> {
    const hooks = await this.bindings(tenantId, context.connector.id, context.operation.hook_operation, 'after');
    for (const [index, hook] of hooks.entries()) {
      let run: PolicyOutcome;
      try {
        run = await this.runWithPolicy(await this.atVersion(hook, versions, logs), context, logs);
      } catch (error) {
        if (error instanceof HooksUnavailable) await this.skip(tenantId, context, hooks.slice(index), error.message, versions, logs);
        throw error;
      }
      if (run.kind === 'abort') {
        await this.skip(tenantId, context, hooks.slice(index + 1), run.reason, versions, logs);
        return run.reason;
      }
    }
    return null;
  }

  /** Records the after hooks as skipped: the connector call was not made, or failed (`why`). */
  async skipAfter(tenantId: string, context: HookContext, why: string, versions: HookVersions, logs: HookLog[]): Promise<void> {
    const hooks = await this.bindings(tenantId, context.connector.id, context.operation.hook_operation, 'after');
    await this.skip(tenantId, { ...context, phase: 'after' }, hooks, why, versions, logs);
  }

  /** `skipped` rows for hooks that will not run in this attempt, at the version they would have run. */
  private async skip(tenantId: string, context: HookContext, hooks: BoundHook[], why: string, versions: HookVersions, logs: HookLog[]): Promise<void> {
    if (hooks.length === 0) return;
    const runs: SkippedScriptRun[] = hooks.map((hook) => ({
      script: { id: hook.id, tenant_id: hook.tenant_id, current_version: versions.pinned.get(hook.binding_id) ?? hook.current_version },
      reason: `not run: ${why}`,
      trigger: 'hook',
      bindingId: hook.binding_id,
      connectorId: context.connector.id,
      operationId: context.operation.id,
      input: context.operation.attributes,
      triggerData: { operation_id: context.operation.id, phase: context.phase, hook_operation: context.operation.hook_operation },
    }));
    try {
      await this.execution.recordSkipped(tenantId, runs);
      logs.push({ level: 'info', message: `${context.phase} hooks not run (recorded skipped): ${hooks.map((h) => h.binding_id).join(', ')}` });
    } catch (error) {
      // What ended the chain matters more than the record of what it left out.
      logs.push({ level: 'warn', message: `${context.phase} hooks not run, and their skipped records could not be written: ${(error as Error).message}` });
    }
  }

  /** The hook's script at the version it runs (HookVersions): its live row, or a stored version's source. */
  private async atVersion(hook: BoundHook, versions: HookVersions, logs: HookLog[]): Promise<BoundHook> {
    const version = versions.pinned.get(hook.binding_id);
    if (version === undefined || version === hook.current_version) return hook;
    const key = `${hook.id}:${version}`;
    let source = this.versionSources.get(key);
    if (source === undefined) {
      const stored = await loadScriptAtVersion(this.db.read(hook.tenant_id), hook.id, version);
      if (!stored) {
        logs.push({ level: 'warn', message: `hook ${hook.binding_id}: its pinned version v${version} of script ${hook.id} is not stored; running the live v${hook.current_version}` });
        return hook;
      }
      source = stored.source;
      if (this.versionSources.size >= VERSION_CACHE_SIZE) this.versionSources.clear();
      this.versionSources.set(key, source);
    }
    return { ...hook, source, current_version: version };
  }

  private async runWithPolicy(hook: BoundHook, context: HookContext, logs: HookLog[]): Promise<PolicyOutcome> {
    const tries = hook.failure_policy === 'retry' ? 1 + hook.max_retries : 1;
    let last = '';
    for (let attempt = 1; attempt <= tries; attempt++) {
      let run;
      try {
        run = await this.execution.run(hook, context as unknown as Parameters<ScriptExecution['run']>[1], {
          trigger: 'hook',
          bindingId: hook.binding_id,
          connectorId: context.connector.id,
          operationId: context.operation.id,
          input: context.operation.attributes,
          triggerData: { operation_id: context.operation.id, phase: context.phase, hook_operation: context.operation.hook_operation },
          maxExecutionTimeMs: hook.timeout_seconds * 1000,
        });
      } catch (error) {
        throw new HooksUnavailable(`${context.phase} hook ${hook.binding_id} could not run: ${(error as Error).message}`);
      }
      if (run.result.status === 'completed') {
        logs.push({ level: 'info', message: `${context.phase} hook ${hook.binding_id} (script ${hook.id} v${hook.current_version}) completed in ${run.result.metrics.duration_ms} ms` });
        return { kind: 'ok', output: run.result.output };
      }
      last = `${run.result.status}: ${run.result.error ?? 'no error message'}`;
      logs.push({ level: 'warn', message: `${context.phase} hook ${hook.binding_id} run ${attempt} of ${tries} ${last}` });
    }
    if (hook.failure_policy === 'continue') {
      logs.push({ level: 'warn', message: `${context.phase} hook ${hook.binding_id} failed; failure_policy continue: going on` });
      return { kind: 'continued' };
    }
    return { kind: 'abort', reason: `${context.phase} hook ${hook.binding_id} failed (${hook.failure_policy}): ${last}` };
  }
}
