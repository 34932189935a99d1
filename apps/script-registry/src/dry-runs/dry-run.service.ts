import { Inject, Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { missingPermission } from '@provisio/contracts';
import { ForbiddenError, Principal } from '@provisio/platform';
import { ExecutionResult, resolveLimits, SandboxPool } from '@provisio/sandbox';
import { capResourceLimits, TenantDatabase } from '@provisio/persistence';
import { dryRunFetch, RecordedFetch } from './dry-run-fetch';
import { TenantLimitsService } from '../tenant-limits/tenant-limits.service';
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
 * Seed 000's dry run: runs a script in the registry's sandbox pool with the caller's context and NO side
 * effects. `fetch` never reaches the network (`dryRunFetch`: recorded, answered 599); the run uses a
 * budget of API calls of its own (the sandbox keys dry runs apart), never the live one; no
 * `provisio.script.execution.finished` event is published. It is recorded as a `script_executions` row
 * (`dry_run = true`, `trigger_type = 'manual'`, `executed_by` = the caller) whenever there is a script to
 * record it against; analytics leave dry runs out.
 */
@Injectable()
export class DryRunService {
  constructor(
    @Inject(SandboxPool) private readonly pool: SandboxPool,
    private readonly db: TenantDatabase,
    private readonly scripts: StoredScripts,
    private readonly tenantLimits: TenantLimitsService,
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
    // The tenant's caps hold at run time too: a script saved under a higher cap runs under the current one.
    const limits = capResourceLimits(resolveLimits(run.script?.resource_limits), await this.tenantLimits.caps(this.db.read(principal)));
    limits.max_execution_time_ms = Math.min(limits.max_execution_time_ms, DRY_RUN_MAX_EXECUTION_TIME_MS);
    const { fetchImpl, requests } = dryRunFetch();
    const startedAt = new Date();
    const result = await this.pool.execute({
      source: run.source,
      context: run.context,
      limits,
      tenantId: principal.tenantId,
      scriptId: run.script?.id,
      allowedHosts: run.allowedHosts,
      fetchImpl,
    });
    const completedAt = new Date();
    const scriptVersion = run.kind === 'stored' ? run.script!.version_number : null;
    const executionId = run.script ? await this.record(principal, run, scriptVersion, result, requests, startedAt, completedAt) : null;
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

  /**
   * One statement, after the run (a dry run holds no transaction while it runs). It records nothing when
   * the script was deleted meanwhile: the caller still gets the result.
   */
  private async record(
    principal: Principal,
    run: Run,
    scriptVersion: number | null,
    result: ExecutionResult,
    requests: RecordedFetch[],
    startedAt: Date,
    completedAt: Date,
  ): Promise<string | null> {
    const triggerData = {
      dry_run: true,
      source: run.kind,
      source_sha256: createHash('sha256').update(run.source, 'utf8').digest('hex'),
      fetch_requests: requests,
    };
    const logs = result.logs.map((l) => ({ level: l.level, message: l.message, timestamp: l.at }));
    const row = await this.db.write(principal, (tx) =>
      tx.one<{ id: string }>(
        `INSERT INTO script_executions (tenant_id, script_id, status, trigger_type, trigger_data, input, output, error, metrics, logs,
                                        started_at, completed_at, script_version, dry_run, executed_by)
         SELECT $1, s.id, $3, 'manual', $4::jsonb, $5::jsonb, $6::jsonb, $7, $8::jsonb, $9::jsonb, $10, $11, $12, true, $13
           FROM scripts s WHERE s.tenant_id = $1 AND s.id = $2
         RETURNING id`,
        [
          run.script!.id,
          result.status,
          JSON.stringify(triggerData),
          JSON.stringify(run.context),
          result.status === 'completed' ? JSON.stringify(result.output) : null,
          result.error,
          JSON.stringify(result.metrics),
          JSON.stringify(logs),
          startedAt,
          completedAt,
          scriptVersion,
          tx.subject,
        ],
      ),
    );
    return row?.id ?? null;
  }
}
