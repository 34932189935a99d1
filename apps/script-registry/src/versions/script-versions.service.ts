import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { FILE_HEADERS_ONLY, formatPatch, structuredPatch } from 'diff';
import { ConflictError, NotFoundError, Page, page, Principal, ValidationError, translateUniqueViolation, SqlFilters } from '@provisio/platform';
import { CallerTransaction, TenantDatabase, TenantScoped } from '@provisio/persistence';
import { AuditService } from '../audit/audit.service';
import { lockScript, ScriptLock } from '../common/script-lock';
import { scriptChanged } from '../common/script-events';
import type { CreateVersionDto, DiffQueryDto, RollbackDto } from './dtos/create-version.dto';
import type { ScriptVersionDiffDto, ScriptVersionDto, ScriptVersionSummaryDto } from './dtos/version.dto';

export interface NewVersion {
  source: string;
  change_description?: string | null;
  semantic_version?: string | null;
}

/** A `scripts` column set along with a new version: `column = $n::cast`. Columns are code, never request text. */
export interface ColumnChange {
  column: string;
  cast?: string;
  value: unknown;
}

export interface InsertedVersion {
  id: string;
  version_number: number;
  source_sha256: string;
}

interface LiveScript {
  id: string;
  status: string;
  source: string;
  current_version: number;
}

const SUMMARY = `v.id, v.script_id, v.tenant_id, v.version_number, v.change_description, v.source_sha256, v.semantic_version,
  u.subject AS created_by, v.created_at`;
const FROM = 'FROM script_versions v LEFT JOIN users u ON u.id = v.created_by';

export const VERSION_UNIQUES = {
  uq_versions_script_semver: { field: 'semantic_version', message: 'this script already has a version with that semantic_version' },
};

export const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** Seed 000 calls the source `script_body`; accept either, not two different texts. */
export function pickSource(input: { source?: string; script_body?: string }): string | undefined {
  if (input.source !== undefined && input.script_body !== undefined && input.source !== input.script_body) {
    throw new ValidationError('give source or script_body, not two different texts', 'script_body');
  }
  return input.source ?? input.script_body;
}

const withBody = (row: ScriptVersionSummaryDto & { source: string }): ScriptVersionDto => ({ ...row, script_body: row.source });

/**
 * Versions of a script's source (seed 001 `script_versions`, seed 000 ScriptVersion): immutable, numbered
 * 1, 2, 3 … per script. Every change of source appends one (`append`, under the script's row lock) and
 * makes it live (`scripts.source`, `scripts.current_version`); a rollback appends a copy of an old one.
 */
@Injectable()
export class ScriptVersionsService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly audit: AuditService,
  ) {}

  /**
   * Appends version max+1 of a script with `input.source` and makes it live (`scripts.source`,
   * `current_version`, `source_sha256`), in one statement; `alsoSet` are further `scripts` columns the
   * caller changes at the same time. The caller holds the script's row lock (a `ScriptLock`), so two
   * writers never pick the same number.
   */
  async append(tx: CallerTransaction, script: ScriptLock, input: NewVersion, alsoSet: ColumnChange[] = []): Promise<InsertedVersion> {
    const digest = sha256(input.source);
    const extra = alsoSet.map((change, i) => `, ${change.column} = $${i + 8}${change.cast ?? ''}`).join('');
    try {
      const [version] = await tx.query<{ id: string; version_number: number }>(
        `WITH v AS (
           INSERT INTO script_versions (tenant_id, script_id, version_number, source, change_description, source_sha256, semantic_version, created_by)
           SELECT $1, $2, COALESCE(max(version_number), 0) + 1, $3, $4, $5, $6, $7 FROM script_versions WHERE tenant_id = $1 AND script_id = $2
           RETURNING id, version_number, source, source_sha256)
         UPDATE scripts s SET source = v.source, current_version = v.version_number, source_sha256 = v.source_sha256,
                updated_at = now(), updated_by = $7${extra}
           FROM v WHERE s.tenant_id = $1 AND s.id = $2
         RETURNING v.id, v.version_number`,
        [script.id, input.source, input.change_description ?? null, digest, input.semantic_version ?? null, tx.actorId, ...alsoSet.map((c) => c.value)],
      );
      return { ...version, source_sha256: digest };
    } catch (error) {
      translateUniqueViolation(error, VERSION_UNIQUES);
    }
  }

  async list(principal: Principal, scriptId: string, query: { limit: number; offset: number }): Promise<Page<ScriptVersionSummaryDto>> {
    const db = this.db.read(principal);
    const filters = new SqlFilters('v.tenant_id').add('v.script_id = ?', scriptId);
    const paged = filters.page(query);
    const [rows, [{ total }]] = await Promise.all([
      db.query<ScriptVersionSummaryDto>(`SELECT ${SUMMARY} ${FROM} WHERE ${filters.where} ORDER BY v.version_number DESC ${paged.sql}`, paged.params),
      db.query<{ total: number }>(`SELECT count(*)::int AS total FROM script_versions v WHERE ${filters.where}`, filters.params),
    ]);
    if (total === 0) await this.requireScript(db, scriptId);
    return page(rows, total, query);
  }

  async get(principal: Principal, scriptId: string, versionNumber: number): Promise<ScriptVersionDto> {
    const db = this.db.read(principal);
    const version = await this.find(db, scriptId, versionNumber);
    if (version) return version;
    await this.requireScript(db, scriptId);
    throw new NotFoundError('version', `${versionNumber} of script ${scriptId}`);
  }

  async diff(principal: Principal, scriptId: string, query: DiffQueryDto): Promise<ScriptVersionDiffDto> {
    const db = this.db.read(principal);
    const script = await this.requireScript(db, scriptId);
    const to = query.to ?? script.current_version;
    const from = query.from ?? Math.max(1, to - 1);
    const rows = await db.query<{ version_number: number; source: string }>(
      'SELECT version_number, source FROM script_versions WHERE tenant_id = $1 AND script_id = $2 AND version_number = ANY($3::int[])',
      [scriptId, [from, to]],
    );
    const source = (n: number, field: string) => {
      const row = rows.find((r) => r.version_number === n);
      if (!row) throw new NotFoundError('version', `${n} (${field}) of script ${scriptId}`);
      return row.source;
    };
    const [before, after] = [source(from, 'from'), source(to, 'to')];
    if (before === after) return { script_id: scriptId, from_version: from, to_version: to, diff: '', additions: 0, deletions: 0 };
    const patch = structuredPatch(`v${from}`, `v${to}`, before, after, '', '', { context: 3 });
    const lines = patch.hunks.flatMap((h) => h.lines);
    return {
      script_id: scriptId,
      from_version: from,
      to_version: to,
      diff: formatPatch(patch, FILE_HEADERS_ONLY),
      additions: lines.filter((l) => l.startsWith('+')).length,
      deletions: lines.filter((l) => l.startsWith('-')).length,
    };
  }

  /** `POST /scripts/{id}/versions`: a new source as a new live version. */
  async create(principal: Principal, scriptId: string, dto: CreateVersionDto): Promise<ScriptVersionDto> {
    const source = pickSource(dto)!;
    const created = await this.db.write(principal, async (tx) => {
      const script = await this.lockWritable(tx, scriptId);
      if (source === script.source) throw new ConflictError(`the source is that of the live version ${script.current_version}`, 'source');
      const version = await this.append(tx, script, { source, change_description: dto.change_description, semantic_version: dto.semantic_version });
      await this.audit.recordAndAnnounce(tx, {
        script_id: script.id,
        entity_id: script.id,
        action: 'create_version',
        details: { version_id: version.id, version_number: version.version_number, previous_version: script.current_version, change_description: dto.change_description ?? null },
      }, scriptChanged(tx.tenantId, { id: script.id, status: script.status, current_version: version.version_number }, 'version_created'));
      return version.version_number;
    });
    return this.get(principal, scriptId, created);
  }

  /** Appends a copy of version `versionNumber` as the new live version (history is never rewritten). */
  async rollback(principal: Principal, scriptId: string, versionNumber: number, dto: RollbackDto): Promise<ScriptVersionDto> {
    const created = await this.db.write(principal, async (tx) => {
      const script = await this.lockWritable(tx, scriptId);
      const target = await this.find(tx, scriptId, versionNumber);
      if (!target) throw new NotFoundError('version', `${versionNumber} of script ${scriptId}`);
      if (target.source === script.source) throw new ConflictError(`version ${versionNumber} is what is live already (version ${script.current_version})`, 'version');
      const version = await this.append(tx, script, {
        source: target.source,
        change_description: dto.change_description ?? `Rollback to version ${versionNumber}`,
      });
      await this.audit.recordAndAnnounce(tx, {
        script_id: script.id,
        entity_id: script.id,
        action: 'rollback',
        details: { version_id: version.id, version_number: version.version_number, rolled_back_to: versionNumber, previous_version: script.current_version },
      }, scriptChanged(tx.tenantId, { id: script.id, status: script.status, current_version: version.version_number }, 'version_created'));
      return version.version_number;
    });
    return this.get(principal, scriptId, created);
  }

  private async lockWritable(tx: CallerTransaction, scriptId: string): Promise<ScriptLock<LiveScript>> {
    const script = await lockScript<LiveScript>(tx, scriptId, 's.id, s.status, s.source, s.current_version');
    if (script.status === 'archived') throw new ConflictError('an archived script cannot change', 'status');
    return script;
  }

  private async find(db: TenantScoped, scriptId: string, versionNumber: number): Promise<ScriptVersionDto | undefined> {
    const row = await db.one<ScriptVersionSummaryDto & { source: string }>(
      `SELECT ${SUMMARY}, v.source ${FROM} WHERE v.tenant_id = $1 AND v.script_id = $2 AND v.version_number = $3`,
      [scriptId, versionNumber],
    );
    return row && withBody(row);
  }

  private async requireScript(db: TenantScoped, scriptId: string): Promise<{ current_version: number }> {
    const script = await db.one<{ current_version: number }>('SELECT current_version FROM scripts WHERE tenant_id = $1 AND id = $2', [scriptId]);
    if (!script) throw new NotFoundError('script', scriptId);
    return script;
  }
}
