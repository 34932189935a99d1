import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { missingPermission } from '@provisio/contracts';
import { ForbiddenError, Principal } from '@provisio/platform';
import { TenantDatabase } from '@provisio/persistence';
import { ExecutionRecords, ScriptExecution } from '@provisio/script-execution';
import { dryRunFetch } from './dry-run-fetch';
import { StoredScripts, ScriptToTry } from '../validation/stored-scripts';
import type { DryRunResultDto } from './dtos/dry-run.dto';
import { UnsavedDryRunSlots } from './unsaved-dry-run-slots';

/**
 * A dry run waits in the HTTP request, so its wall time is capped below the script's own limit (which may
 * be up to 15 minutes for scheduled work): a test run that needs longer is not a test run.
 */
export const DRY_RUN_MAX_EXECUTION_TIME_MS = 30_000;

interface Run {
  script?: ScriptToTry;
  source: string;
  /** `stored` (a version of the script) or `unsaved` (source from the request). */
  kind: 'stored' | 'unsaved';
  context: Record<string, unknown>;
  allowedHosts: string[];
}

/**
 * Seed 000's dry run: runs a script (ScriptExecution of `@provisio/script-execution`, on the registry's
 * sandbox pool) with the caller's context and NO side
 * effects. `fetch` never reaches the network (`dryRunFetch`: recorded, answered 599); the run uses a
 * budget of API calls of its own (the sandbox keys dry runs apart), never the live one; no
 * `provisio.script.execution.finished` event is published. It is recorded as a `script_executions` row
 * (`dry_run = true`, `trigger_type = 'manual'`, `executed_by` = the caller) whenever there is a script to
 * record it against; analytics leave dry runs out.
 */
@Injectable()
export class DryRunService {
  constructor(
    private readonly execution: ScriptExecution,
    private readonly records: ExecutionRecords,
    private readonly db: TenantDatabase,
    private readonly scripts: StoredScripts,
    private readonly unsaved: UnsavedDryRunSlots,
  ) {}

  /** `POST /scripts/{id}/dry-run`: the live version, or `version`. */
  async runStored(principal: Principal, scriptId: string, context: Record<string, unknown> = {}, version?: number): Promise<DryRunResultDto> {
    const script = await this.scripts.load(this.db.read(principal), scriptId, version);
    return this.run(principal, { script, source: script.source, kind: 'stored', context, allowedHosts: script.allowed_hosts });
  }

  /** `POST /scripts/dry-run`: an unsaved source; recorded only when it names the script it is an edit of. */
  async runSource(principal: Principal, source: string, context: Record<string, unknown> = {}, scriptId?: string): Promise<DryRunResultDto> {
    return this.unsaved.run(principal.tenantId, async () => {
      const db = this.db.read(principal);
      const script = scriptId ? await this.scripts.load(db, scriptId, undefined, 'script_id') : undefined;
      return this.run(principal, { script, source, kind: 'unsaved', context, allowedHosts: script?.allowed_hosts ?? (await this.scripts.allowedHosts(db)) });
    });
  }

  private async run(principal: Principal, run: Run): Promise<DryRunResultDto> {
    // A dry run of a saved script (or of an edit of one) runs as that script: its required_permissions apply.
    const missing = missingPermission(principal.permissions, run.script?.required_permissions);
    if (missing) throw new ForbiddenError(`script ${run.script!.id} requires permission ${missing} to run (required_permissions)`, 'required_permissions', { missing_permission: missing });
    // The tenant's caps hold at run time too (ScriptExecution applies them): a script saved under a higher cap runs under the current one.
    const settings = await this.records.tenantRunSettings(this.db.read(principal));
    const { fetchImpl, requests } = dryRunFetch();
    const scriptVersion = run.kind === 'stored' ? run.script!.version_number : null;
    const { result, executionId } = await this.execution.run(
      { id: run.script?.id, tenant_id: principal.tenantId, source: run.source, resource_limits: run.script?.resource_limits ?? {}, ...settings, allowed_hosts: run.allowedHosts },
      run.context,
      {
        trigger: 'manual',
        dryRun: { fetchImpl },
        maxExecutionTimeMs: DRY_RUN_MAX_EXECUTION_TIME_MS,
        scriptVersion,
        input: run.context,
        executedBy: principal.subject,
        // `requests` fills in while the script runs; the row is written after it.
        triggerData: { dry_run: true, source: run.kind, source_sha256: createHash('sha256').update(run.source, 'utf8').digest('hex'), fetch_requests: requests },
      },
    );
    return {
      success: result.status === 'completed',
      status: result.status,
      output: result.status === 'completed' ? JSON.stringify(result.output) : null,
      error: result.error,
      duration_ms: result.metrics.duration_ms,
      logs: result.logs.map((l) => ({ level: l.level, message: l.message, timestamp: l.at })),
      fetch_requests: requests,
      execution_id: executionId,
      script_id: run.script?.id ?? null,
      script_version: scriptVersion,
    };
  }
}
