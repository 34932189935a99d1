import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { DomainError, Metrics, NotFoundError } from '@provisio/platform';
import { ExecutionRunner, SandboxRun } from '../executions/execution-runner.service';
import { ExecutionsRepository } from '../executions/executions.repository';

export interface HttpTriggerRequest {
  tenantId: string;
  actor: string;
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
 * `http_methods`, the script run synchronously and its `{status, headers, body}` returned.
 */
@Injectable()
export class HttpTriggersService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly executions: ExecutionsRepository,
    private readonly runner: ExecutionRunner,
    private readonly metrics: Metrics,
  ) {}

  async handle(request: HttpTriggerRequest): Promise<HttpTriggerResponse> {
    const endpoints: { script_id: string; http_methods: string[] }[] = await this.dataSource.query(
      `SELECT e.script_id, e.http_methods FROM script_http_endpoints e JOIN scripts s ON s.id = e.script_id
        WHERE e.tenant_id = $1 AND e.http_path = $2 AND e.is_active AND s.status = 'active'`,
      [request.tenantId, request.path],
    );
    if (endpoints.length === 0) throw new NotFoundError('HTTP endpoint', request.path);
    const endpoint = endpoints[0];
    if (!endpoint.http_methods.includes(request.method)) {
      throw new MethodNotAllowedError(`${request.method} is not allowed on ${request.path}; allowed: ${endpoint.http_methods.join(', ')}`, 'method', { allowed: endpoint.http_methods });
    }
    const headers = Object.fromEntries(Object.entries(request.headers).filter(([name]) => !HIDDEN_HEADERS.has(name.toLowerCase())));
    const { execution, script } = await this.dataSource.transaction(async (manager) => {
      const found = await this.executions.loadScript(manager, endpoint.script_id);
      if (!found) throw new NotFoundError('HTTP endpoint', request.path);
      const [created] = await this.executions.create(manager, [
        {
          script_id: found.id,
          tenant_id: request.tenantId,
          trigger_type: 'http',
          trigger_data: { method: request.method, path: request.path, query: request.query, headers },
          input: (request.body && typeof request.body === 'object' ? request.body : { body: request.body ?? null }) as Record<string, unknown>,
          executed_by: request.actor,
        },
      ]);
      return { execution: created, script: found };
    });
    let run: SandboxRun;
    try {
      run = await this.runner.execute(execution, script);
    } catch (error) {
      // Not run (over max_concurrent_runs): the caller gets 429 and the row says so.
      await this.dataSource.transaction((manager) => this.executions.skip(manager, execution.id, (error as Error).message));
      throw error;
    }
    const recorded = await this.dataSource.transaction((manager) => this.runner.record(manager, execution, script.current_version, run));
    if (recorded.recordedNow) this.metrics.scriptExecutions.inc({ trigger: 'http', status: recorded.status });
    const result = run.result;
    if (result.status !== 'completed') {
      throw new ScriptFailedError(`script ${result.status}: ${result.error ?? 'no error message'}`, undefined, { execution_id: execution.id, status: result.status });
    }
    const answer = scriptResponseSchema.safeParse(result.output ?? {});
    if (!answer.success) {
      const issue = answer.error.issues[0];
      throw new ScriptFailedError(`script answered an invalid response: ${issue.path.join('.')}: ${issue.message}`, undefined, { execution_id: execution.id });
    }
    return { status: answer.data.status, headers: answer.data.headers, body: answer.data.body ?? null, executionId: execution.id };
  }
}
