/**
 * Test rows the registry has no API for (tests only; never imported by the app): connectors belong to the
 * provisioning queue, executions to the worker. The app itself boots with `startRegistry()`.
 */
import { randomUUID } from 'node:crypto';
import { ensureTenant } from '@provisio/persistence';
import type { RegistryTestApp } from './registry-app';

/** A connector of the caller's tenant (the tenant row is created when missing). */
export async function createConnector(t: RegistryTestApp, tenantId: string, name = `conn-${randomUUID().slice(0, 8)}`): Promise<string> {
  await ensureTenant(t.db.dataSource, tenantId);
  const [{ id }] = await t.db.dataSource.query(`INSERT INTO connectors (tenant_id, name, type) VALUES ($1, $2, 'ldap') RETURNING id`, [tenantId, name]);
  return id;
}

export interface ExecutionFields {
  status?: string;
  trigger_type?: string;
  started_at?: Date | string;
  duration_ms?: number | null;
  error?: string | null;
  output?: unknown;
  input?: unknown;
  dry_run?: boolean;
  binding_id?: string | null;
  connector_id?: string | null;
  script_version?: number | null;
  executed_by?: string | null;
  logs?: unknown[];
}

/** An execution row as the execution worker records one. */
export async function insertExecution(t: RegistryTestApp, tenantId: string, scriptId: string, fields: ExecutionFields = {}): Promise<string> {
  const startedAt = new Date(fields.started_at ?? Date.now());
  const duration = fields.duration_ms === undefined ? 100 : fields.duration_ms;
  const status = fields.status ?? 'completed';
  const finished = !['pending', 'queued', 'running'].includes(status);
  const [{ id }] = await t.db.dataSource.query(
    `INSERT INTO script_executions (tenant_id, script_id, status, trigger_type, input, output, error, metrics, started_at, completed_at, dry_run,
                                    binding_id, connector_id, script_version, executed_by, logs)
     VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8::jsonb, $9, $10, $11, $12, $13, $14, $15, $16::jsonb) RETURNING id`,
    [
      tenantId,
      scriptId,
      status,
      fields.trigger_type ?? 'event',
      JSON.stringify(fields.input ?? {}),
      fields.output === undefined ? null : JSON.stringify(fields.output),
      fields.error ?? null,
      JSON.stringify(duration === null || !finished ? {} : { duration_ms: duration }),
      startedAt,
      finished && duration !== null ? new Date(startedAt.getTime() + duration) : null,
      fields.dry_run ?? false,
      fields.binding_id ?? null,
      fields.connector_id ?? null,
      fields.script_version === undefined ? 1 : fields.script_version,
      fields.executed_by ?? null,
      JSON.stringify(fields.logs ?? []),
    ],
  );
  return id;
}
