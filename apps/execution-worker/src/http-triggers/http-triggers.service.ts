import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { TenantDatabase } from '@provisio/persistence';
import { DomainError, ForbiddenError, Metrics, NotFoundError, toStorable } from '@provisio/platform';
import { ExecutionRecords, ScriptExecution } from '@provisio/script-execution';
import { PreparedRun, RunInputs } from '../parameters/run-inputs.service';
import { ExecutionsRepository } from '../executions/executions.repository';

export interface HttpTriggerRequest {
  tenantId: string;
  actor: string;
  /** The caller's permissions: the script's `required_permissions` must all be among them. */
  permissions: ReadonlySet<string>;
  method: string;
  path: string;
  query: Record<string, unknown>;
  headers: Record<string, string>;
  body: unknown;
}

export interface HttpTriggerResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
  executionId: string;
}

/** What an HTTP-triggered script answers. */
const scriptResponseSchema = z.object({
  status: z.number().int().min(100).max(599).default(200),
  headers: z.record(z.string().regex(/^[A-Za-z0-9-]+$/), z.string()).default({}),
  body: z.unknown().optional(),
});

export class MethodNotAllowedError extends DomainError {
  readonly code = 'method_not_allowed' as const;
}

export class ScriptFailedError extends DomainError {
  readonly code = 'script_failed' as const;
}

/** Request headers a script never sees: credentials of the caller. */
const HIDDEN_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

/**
 * Serves HTTP-triggered scripts: the tenant's active endpoint for the path, the method among its
 * `http_methods`, the caller holding every one of the script's `required_permissions` (seed 004), the
 * script run synchronously and its `{status, headers, body}` returned.
 */
@Injectable()
export class HttpTriggersService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly executions: ExecutionsRepository,
    private readonly records: ExecutionRecords,
    private readonly runner: ScriptExecution,
    private readonly inputs: RunInputs,
    private readonly metrics: Metrics,
  ) {}

  async handle(request: HttpTriggerRequest): Promise<HttpTriggerResponse> {
    const endpoints = await this.db.read(request.tenantId).query<{ script_id: string; http_methods: string[]; required_permissions: string[] }>(
      `SELECT e.script_id, e.http_methods, s.required_permissions FROM script_http_endpoints e JOIN scripts s ON s.id = e.script_id
        WHERE e.tenant_id = $1 AND e.http_path = $2 AND e.is_active AND s.status = 'active'`,
      [request.path],
    );
    if (endpoints.length === 0) throw new NotFoundError('HTTP endpoint', request.path);
    const endpoint = endpoints[0];
    if (!endpoint.http_methods.includes(request.method)) {
      throw new MethodNotAllowedError(`${request.method} is not allowed on ${request.path}; allowed: ${endpoint.http_methods.join(', ')}`, 'method', { allowed: endpoint.http_methods });
    }
    const missing = endpoint.required_permissions.find((permission) => !request.permissions.has(permission));
    if (missing !== undefined) {
      throw new ForbiddenError(`the script at ${request.path} requires the permission ${missing}, which the caller lacks`, 'required_permissions', { missing });
    }
    const headers = Object.fromEntries(Object.entries(request.headers).filter(([name]) => !HIDDEN_HEADERS.has(name.toLowerCase())));
    const { execution, script } = await this.db.transaction(request.tenantId, async (tx) => {
      const found = await this.records.loadScript(tx, endpoint.script_id);
      if (!found) throw new NotFoundError('HTTP endpoint', request.path);
      const [created] = await this.executions.create(tx.manager, [
        {
          script_id: found.id,
          tenant_id: request.tenantId,
          trigger_type: 'http',
          // Made storable before the run, so the script sees the request as it is recorded.
          trigger_data: toStorable({ method: request.method, path: request.path, query: request.query, headers }),
          input: toStorable((request.body && typeof request.body === 'object' ? request.body : { body: request.body ?? null }) as Record<string, unknown>),
          executed_by: request.actor,
        },
      ]);
      return { execution: created, script: found };
    });
    let run: PreparedRun;
    try {
      // The script's parameters checked (its defaults: a request carries no parameter values) and its secrets opened.
      run = await this.inputs.execute(execution, script);
    } catch (error) {
      // Not run (over max_concurrent_runs): the caller gets 429 and the row says so.
      await this.executions.skip(this.db.statements(request.tenantId), execution.id, (error as Error).message);
      throw error;
    }
    // One statement (the record and its event): no transaction needed.
    const recorded = await this.runner.record(this.db.dataSource.manager, execution, run.scriptVersion, run);
    if (recorded.recordedNow) this.metrics.scriptExecutions.inc({ trigger: 'http', status: recorded.status });
    const result = run.result;
    if (result.status !== 'completed' || recorded.unrecordable) {
      const status = recorded.unrecordable ? recorded.status : result.status;
      throw new ScriptFailedError(`script ${status}: ${(recorded.unrecordable ? recorded.error : result.error) ?? 'no error message'}`, undefined, { execution_id: execution.id, status });
    }
    const answer = scriptResponseSchema.safeParse(result.output ?? {});
    if (!answer.success) {
      const issue = answer.error.issues[0];
      throw new ScriptFailedError(`script answered an invalid response: ${issue.path.join('.')}: ${issue.message}`, undefined, { execution_id: execution.id });
    }
    return { status: answer.data.status, headers: answer.data.headers, body: answer.data.body ?? null, executionId: execution.id };
  }
}
