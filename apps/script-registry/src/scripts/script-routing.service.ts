import { Injectable } from '@nestjs/common';
import type { CallerTransaction, ScriptStatus } from '@provisio/persistence';
import { DEFAULT_TIMEZONE, JOB_STATUS_OF, Triggers } from './script-rules';

/** A token's permissions are few; a bound keeps a hostile token from bloating the row. */
const MAX_OWNER_PERMISSIONS = 200;

export interface RoutedScript extends Triggers {
  id: string;
  status: ScriptStatus;
}

/**
 * Keeps the routing tables derived from a script in step with it, in the caller's transaction:
 *  - `script_event_subscriptions`: one row per event type of an `event` script;
 *  - `script_http_endpoints`: one row for an `http` script;
 *  - `script_scheduled_jobs`: one row for a `scheduled` script, its status mirroring the script's
 *    (`JOB_STATUS_OF`); `next_run_at` is reset to NULL when the job is created, its cron or time zone
 *    changes, or it becomes active again, and the scheduler computes it; `owner_permissions` is stamped
 *    with the permissions of the caller writing it (scheduled runs are checked against them).
 * `is_active` is true exactly while the script is `active`. Rows a script no longer needs are deleted
 * (a type change); deleting the script cascades to all of them.
 */
@Injectable()
export class ScriptRoutingService {
  /** `ownerPermissions`: the permissions of the caller (their token's), stamped on a scheduled job. */
  async sync(tx: CallerTransaction, script: RoutedScript, ownerPermissions: ReadonlySet<string>): Promise<void> {
    const active = script.status === 'active';
    const eventTypes = script.type === 'event' ? (script.event_types ?? []) : [];
    await tx.execute('DELETE FROM script_event_subscriptions WHERE tenant_id = $1 AND script_id = $2 AND NOT (event_type = ANY($3::text[]))', [script.id, eventTypes]);
    if (eventTypes.length) {
      await tx.query(
        `INSERT INTO script_event_subscriptions (tenant_id, script_id, event_type, is_active)
         SELECT $1, $2, event_type, $4 FROM unnest($3::text[]) AS event_type
         ON CONFLICT (script_id, event_type) DO UPDATE SET is_active = EXCLUDED.is_active`,
        [script.id, eventTypes, active],
      );
    }

    if (script.type === 'http' && script.http_path && script.http_methods?.length) {
      await tx.query(
        `INSERT INTO script_http_endpoints (tenant_id, script_id, http_path, http_methods, is_active)
         VALUES ($1, $2, $3, $4::text[], $5)
         ON CONFLICT (script_id) DO UPDATE SET http_path = EXCLUDED.http_path, http_methods = EXCLUDED.http_methods, is_active = EXCLUDED.is_active`,
        [script.id, script.http_path, script.http_methods, active],
      );
    } else {
      await tx.execute('DELETE FROM script_http_endpoints WHERE tenant_id = $1 AND script_id = $2', [script.id]);
    }

    if (script.type === 'scheduled' && script.cron_expression) {
      await tx.query(
        `INSERT INTO script_scheduled_jobs (tenant_id, script_id, cron_expression, timezone, status, next_run_at, created_by, updated_by, owner_permissions)
         VALUES ($1, $2, $3, $4, $5, NULL, $6, $6, $7::text[])
         ON CONFLICT (script_id) DO UPDATE SET
           owner_permissions = EXCLUDED.owner_permissions,
           cron_expression = EXCLUDED.cron_expression,
           timezone = EXCLUDED.timezone,
           status = EXCLUDED.status,
           next_run_at = CASE
             WHEN script_scheduled_jobs.cron_expression IS DISTINCT FROM EXCLUDED.cron_expression
               OR script_scheduled_jobs.timezone IS DISTINCT FROM EXCLUDED.timezone
               OR (script_scheduled_jobs.status <> 'active' AND EXCLUDED.status = 'active')
             THEN NULL ELSE script_scheduled_jobs.next_run_at END,
           updated_by = EXCLUDED.updated_by,
           updated_at = now()`,
        [script.id, script.cron_expression, script.timezone ?? DEFAULT_TIMEZONE, JOB_STATUS_OF[script.status], tx.actorId, [...ownerPermissions].sort().slice(0, MAX_OWNER_PERMISSIONS)],
      );
    } else {
      await tx.execute('DELETE FROM script_scheduled_jobs WHERE tenant_id = $1 AND script_id = $2', [script.id]);
    }
  }
}
