import type { TenantScoped } from '@provisio/persistence';
import { ScriptToRun, TENANT_RUN_SETTINGS } from './execution-records.repository';

/**
 * A script as it was at one of its stored versions (`script_versions`), ready to `run`: the script's
 * row, limits and tenant settings as they are now, with that version's source; `current_version` is the
 * version, so a run of it records `script_version` = `version`. Undefined when the script or that
 * version does not exist (in the tenant of `db`).
 *
 * Replays and retries that must run what ran before (a provisioning operation's pinned hook versions,
 * a dead letter replayed at its `original` version) load it here rather than the live `scripts.source`.
 */
export async function loadScriptAtVersion(db: TenantScoped, scriptId: string, version: number): Promise<ScriptToRun | undefined> {
  return db.one<ScriptToRun>(
    `SELECT s.id, s.tenant_id, s.status, v.source, s.resource_limits, v.version_number AS current_version, ${TENANT_RUN_SETTINGS}
       FROM scripts s JOIN tenants t ON t.id = s.tenant_id JOIN script_versions v ON v.script_id = s.id AND v.tenant_id = s.tenant_id
      WHERE s.tenant_id = $1 AND s.id = $2 AND v.version_number = $3`,
    [scriptId, version],
  );
}
