import { Injectable } from '@nestjs/common';
import type { ResourceLimits, TenantScoped } from '@provisio/persistence';
import { NotFoundError } from '@provisio/platform';
import { ReferencedNotFoundError } from '../bindings/referenced-not-found.error';

/** A stored script as validation and dry runs need it: a version's source, its limits, the tenant's allowed hosts. */
export interface ScriptToTry {
  id: string;
  source: string;
  version_number: number;
  resource_limits: ResourceLimits;
  /** Seed 004: what a caller must hold to run the script (dry runs included). */
  required_permissions: string[];
  allowed_hosts: string[];
}

/** `tenants.settings.allowed_fetch_hosts`, as the execution worker reads it. */
const ALLOWED_HOSTS = `COALESCE(ARRAY(SELECT jsonb_array_elements_text(t.settings->'allowed_fetch_hosts')), ARRAY[]::text[]) AS allowed_hosts`;

/** Reads of scripts for validation and dry runs (tenant-scoped, no writes). */
@Injectable()
export class StoredScripts {
  /**
   * The script's live source, or that of version `version`; 404 naming what is missing. `field` names the
   * request field that gave the id when it came from a body (404 with `field`), else it was the path.
   */
  async load(db: TenantScoped, scriptId: string, version?: number, field?: string): Promise<ScriptToTry> {
    const row = await db.one<ScriptToTry & { version_found: boolean }>(
      `SELECT s.id, COALESCE(v.source, s.source) AS source, COALESCE(v.version_number, s.current_version) AS version_number,
              s.resource_limits, s.required_permissions, ${ALLOWED_HOSTS}, ($3::int IS NULL OR v.id IS NOT NULL) AS version_found
         FROM scripts s
         JOIN tenants t ON t.id = s.tenant_id
         LEFT JOIN script_versions v ON v.script_id = s.id AND v.version_number = $3::int
        WHERE s.tenant_id = $1 AND s.id = $2`,
      [scriptId, version ?? null],
    );
    if (!row) throw field ? new ReferencedNotFoundError('script', scriptId, field) : new NotFoundError('script', scriptId);
    if (!row.version_found) throw new NotFoundError('version', `${version} of script ${scriptId}`);
    const { version_found: _found, ...script } = row;
    return script;
  }

  /** The tenant's allowed fetch hosts (none when the tenant has no row yet). */
  async allowedHosts(db: TenantScoped): Promise<string[]> {
    const row = await db.one<{ allowed_hosts: string[] }>(
      `SELECT ${ALLOWED_HOSTS} FROM organizations o JOIN tenants t ON t.id = o.tenant_id WHERE o.tenant_id = $1 AND o.is_default`,
    );
    return row?.allowed_hosts ?? [];
  }
}
