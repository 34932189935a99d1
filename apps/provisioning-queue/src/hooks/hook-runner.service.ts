import { Injectable } from '@nestjs/common';
import type { Attributes } from '@provisio/connectors';
import type { HookBinding, TenantScoped } from '@provisio/persistence';
import { TenantDatabase } from '@provisio/persistence';
import { ScriptExecution, SCRIPT_TO_RUN_COLUMNS, SCRIPT_TO_RUN_JOINS, ScriptToRun } from '@provisio/script-execution';
import type { HookOperation } from '../operations/operation-plan';

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

const BINDINGS_TTL_MS = 2_000;

/**
 * Runs the hook bindings of a connector and operation type around the connector call, in the same
 * process, through the shared script execution (`ScriptExecution.run`, trigger `hook`): every run is a
 * `script_executions` row with `binding_id`, `connector_id`, `script_version` and its status
 * (completed, failed, timeout), and points at the operation (`operation_id`).
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
 */
@Injectable()
export class HookRunner {
  private readonly cache = new Map<string, { at: number; hooks: Promise<BoundHook[]> }>();

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

  async before(tenantId: string, context: HookContext, logs: HookLog[]): Promise<BeforeOutcome> {
    let attributes = context.operation.attributes;
    for (const hook of await this.bindings(tenantId, context.connector.id, context.operation.hook_operation, 'before')) {
      const run = await this.runWithPolicy(hook, { ...context, operation: { ...context.operation, attributes } }, logs);
      if (run.kind === 'abort') return { kind: 'fail', reason: run.reason };
      if (run.kind === 'continued') continue;
      const output = run.output;
      if (output === null || output === undefined) continue;
      if (typeof output !== 'object' || Array.isArray(output)) {
        logs.push({ level: 'warn', message: `before hook ${hook.binding_id} answered neither an object nor nothing: ignored` });
        continue;
      }
      const answer = output as Record<string, unknown>;
      if (answer.skip === true) return { kind: 'skip', reason: typeof answer.reason === 'string' ? answer.reason : `skipped by before hook ${hook.binding_id}` };
      if (typeof answer.fail === 'string') return { kind: 'fail', reason: `before hook ${hook.binding_id}: ${answer.fail}` };
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
  async after(tenantId: string, context: HookContext, logs: HookLog[]): Promise<string | null> {
    for (const hook of await this.bindings(tenantId, context.connector.id, context.operation.hook_operation, 'after')) {
      const run = await this.runWithPolicy(hook, context, logs);
      if (run.kind === 'abort') return run.reason;
    }
    return null;
  }

  private async runWithPolicy(hook: BoundHook, context: HookContext, logs: HookLog[]): Promise<{ kind: 'ok'; output: unknown } | { kind: 'continued' } | { kind: 'abort'; reason: string }> {
    const tries = hook.failure_policy === 'retry' ? 1 + hook.max_retries : 1;
    let last = '';
    for (let attempt = 1; attempt <= tries; attempt++) {
      let run;
      try {
        run = await this.execution.run(hook, context as unknown as Parameters<ScriptExecution['run']>[1], {
          trigger: 'hook',
          bindingId: hook.binding_id,
          connectorId: context.connector.id,
          input: context.operation.attributes,
          triggerData: { operation_id: context.operation.id, phase: context.phase, hook_operation: context.operation.hook_operation },
          maxExecutionTimeMs: hook.timeout_seconds * 1000,
        });
      } catch (error) {
        throw new HooksUnavailable(`${context.phase} hook ${hook.binding_id} could not run: ${(error as Error).message}`);
      }
      if (run.executionId) await this.pointAtOperation(hook.tenant_id, run.executionId, context.operation.id);
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

  /** `script_executions.operation_id`: the hook run points at the operation it ran around. */
  private async pointAtOperation(tenantId: string, executionId: string, operationId: string): Promise<void> {
    await this.db.read(tenantId).execute('UPDATE script_executions SET operation_id = $3 WHERE tenant_id = $1 AND id = $2', [executionId, operationId]);
  }
}
