import type { Queryable } from '@provisio/persistence';

/**
 * Test fixtures (never imported by the service): scripts with a schedule, written as the script registry
 * writes them — the schedule in the same transaction as its script, `next_run_at` NULL unless given.
 */
export interface ScheduledScriptOptions {
  name?: string;
  status?: string;
  cron_expression?: string;
  timezone?: string | null;
  next_run_at?: Date | null;
  schedule?: Record<string, unknown>;
  max_execution_time_ms?: number;
}

export async function createScheduledScript(db: Queryable, tenant: { tenantId: string; organizationId: string }, options: ScheduledScriptOptions = {}): Promise<{ scriptId: string; jobId: string }> {
  const cron = options.cron_expression ?? '* * * * *';
  const limits = { max_execution_time_ms: options.max_execution_time_ms ?? 30000, max_memory_bytes: 67108864, max_concurrent_runs: 5, max_api_calls_per_minute: 60, max_output_size_bytes: 1048576 };
  const [{ id: scriptId }] = await db.query(
    `INSERT INTO scripts (tenant_id, organization_id, name, source, type, status, cron_expression, resource_limits)
     VALUES ($1, $2, $3, 'export default async () => ({ ok: true })', 'scheduled', $4, $5, $6::jsonb) RETURNING id`,
    [tenant.tenantId, tenant.organizationId, options.name ?? `job-${Math.random().toString(36).slice(2, 10)}`, options.status ?? 'active', cron, JSON.stringify(limits)],
  );
  const extra = Object.entries(options.schedule ?? {});
  const columns = ['script_id', 'tenant_id', 'cron_expression', 'timezone', 'next_run_at', ...extra.map(([c]) => c)];
  const values = [scriptId, tenant.tenantId, cron, options.timezone === undefined ? 'UTC' : options.timezone, options.next_run_at ?? null, ...extra.map(([, v]) => v)];
  const [{ id: jobId }] = await db.query(
    `INSERT INTO script_scheduled_jobs (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`,
    values,
  );
  return { scriptId, jobId };
}
