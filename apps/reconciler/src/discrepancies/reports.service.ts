import { Injectable } from '@nestjs/common';
import { subjectsOf, TenantDatabase } from '@provisio/persistence';
import { NotFoundError, Page, page, Principal, SqlFilters, toStorableText } from '@provisio/platform';
import { DISCREPANCY_TYPES, DiscrepancyType } from '../classification/classifier';
import { RunsRepository } from '../runs/runs.repository';
import { DEFAULT_ACTIONS } from './default-actions';
import { DiscrepancyDto, DiscrepancyTrendPointDto, ListDiscrepanciesQueryDto, ReconciliationReportDto, TrendQueryDto } from './dtos/discrepancy.dto';

interface DiscrepancyRow {
  id: string;
  connector_id: string;
  run_id: string;
  discrepancy_type: DiscrepancyType;
  identity_id: string | null;
  external_uid: string | null;
  attribute_name: string | null;
  expected_value: string | null;
  actual_value: string | null;
  resolution_status: string;
  resolved_at: Date | null;
  resolved_by: number | null;
  created_at: Date;
}

const zeroByType = () => Object.fromEntries(DISCREPANCY_TYPES.map((t) => [t, 0])) as Record<string, number>;

/** Discrepancy lists, a run's ReconciliationReport and the DiscrepancyTrendPoints: all computed from the tables. */
@Injectable()
export class ReportsService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly runs: RunsRepository,
  ) {}

  async list(principal: Principal, query: ListDiscrepanciesQueryDto): Promise<Page<DiscrepancyDto>> {
    const db = this.db.read(principal);
    const filters = new SqlFilters('d.tenant_id');
    if (query.run_id) filters.add('d.run_id = ?', query.run_id);
    if (query.connector_id) filters.add('d.connector_id = ?', query.connector_id);
    if (query.discrepancy_type) filters.add('d.discrepancy_type = ?', query.discrepancy_type);
    if (query.resolution_status) filters.add('d.resolution_status = ?', query.resolution_status);
    if (query.identity_id) filters.add('d.identity_id = ?', query.identity_id);
    // Text PostgreSQL cannot hold (NUL, a lone surrogate) matches nothing stored: compared as stored text would be.
    if (query.external_uid) filters.add('d.external_uid = ?', toStorableText(query.external_uid));
    if (query.attribute_name) filters.add('d.attribute_name = ?', toStorableText(query.attribute_name));
    const p = filters.page(query);
    const rows = await db.query<DiscrepancyRow>(
      `SELECT d.id, d.connector_id, d.run_id, d.discrepancy_type, d.identity_id, d.external_uid, d.attribute_name, d.expected_value, d.actual_value,
              d.resolution_status, d.resolved_at, d.resolved_by, d.created_at
         FROM discrepancies d WHERE ${filters.where} ORDER BY d.created_at DESC, d.id ${p.sql}`,
      p.params,
    );
    const [count] = await db.query<{ total: number }>(`SELECT count(*)::int AS total FROM discrepancies d WHERE ${filters.where}`, filters.params);
    const subjects = await subjectsOf(db, rows.map((r) => r.resolved_by).filter((id): id is number => id !== null));
    const items = rows.map((r) => ({
      ...r,
      resolved_at: r.resolved_at ? new Date(r.resolved_at).toISOString() : null,
      resolved_by: r.resolved_by === null ? null : (subjects.get(r.resolved_by) ?? null),
      created_at: new Date(r.created_at).toISOString(),
      default_action: DEFAULT_ACTIONS[r.discrepancy_type]?.action ?? null,
    }));
    return page(items, count.total, query);
  }

  async report(principal: Principal, runId: string): Promise<ReconciliationReportDto> {
    const db = this.db.read(principal);
    const run = await this.runs.find(db, runId);
    if (!run) throw new NotFoundError('reconciliation run', runId);
    const byType = await db.query<{ discrepancy_type: string; count: number }>(
      'SELECT discrepancy_type, count(*)::int AS count FROM discrepancies WHERE tenant_id = $1 AND run_id = $2 GROUP BY discrepancy_type',
      [runId],
    );
    const top = await db.query<{ attribute_name: string; count: number }>(
      `SELECT attribute_name, count(*)::int AS count FROM discrepancies
        WHERE tenant_id = $1 AND run_id = $2 AND discrepancy_type = 'mismatch' GROUP BY attribute_name ORDER BY count(*) DESC, attribute_name LIMIT 10`,
      [runId],
    );
    const actions = await db.query<{ action_type: string; count: number }>(
      'SELECT action_type, count(*)::int AS count FROM reconciliation_actions WHERE tenant_id = $1 AND run_id = $2 GROUP BY action_type',
      [runId],
    );
    const by_type = zeroByType();
    for (const row of byType) by_type[row.discrepancy_type] = row.count;
    const by_action: Record<string, number> = {};
    for (const row of actions) by_action[row.action_type] = row.count;
    // A dry run remediates nothing: its summary counts the default action each discrepancy would get
    // (a run that is not dry counts the actions its remediation phase took, above).
    if (run.dry_run) for (const [type, count] of Object.entries(by_type)) {
      const action = DEFAULT_ACTIONS[type as DiscrepancyType];
      if (action && count) by_action[`would_${action.action}`] = (by_action[`would_${action.action}`] ?? 0) + count;
    }
    const durationMs = Math.round(1000 * (run.duration_seconds ?? (Date.now() - new Date(run.started_at).getTime()) / 1000));
    return {
      run_id: runId,
      discrepancy_summary: { total: Object.values(by_type).reduce((a, b) => a + b, 0), by_type },
      action_summary: { total: Object.values(by_action).reduce((a, b) => a + b, 0), by_action },
      top_mismatched_attributes: top,
      performance_metrics: {
        total_duration_ms: durationMs,
        accounts_per_second: durationMs > 0 ? Math.round((run.accounts_processed * 1000 * 10) / durationMs) / 10 : 0,
        api_calls_made: run.api_calls_made,
      },
    };
  }

  async trends(principal: Principal, query: TrendQueryDto): Promise<DiscrepancyTrendPointDto[]> {
    const to = query.to ? new Date(query.to) : new Date();
    const from = query.from ? new Date(query.from) : new Date(to.getTime() - ((query.days ?? 30) - 1) * 86_400_000);
    const rows = await this.db.read(principal).query<{ day: string; discrepancy_type: string; count: number }>(
      `SELECT to_char(date_trunc('day', created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day, discrepancy_type, count(*)::int AS count
         FROM discrepancies
        WHERE tenant_id = $1 AND created_at >= date_trunc('day', $2::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
          AND created_at < (date_trunc('day', $3::timestamptz AT TIME ZONE 'UTC') + interval '1 day') AT TIME ZONE 'UTC'
          AND ($4::uuid IS NULL OR connector_id = $4)
        GROUP BY 1, 2`,
      [from.toISOString(), to.toISOString(), query.connector_id ?? null],
    );
    const points: DiscrepancyTrendPointDto[] = [];
    for (let day = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate()); day <= to.getTime(); day += 86_400_000) {
      const date = new Date(day).toISOString().slice(0, 10);
      const by_type = zeroByType();
      for (const row of rows.filter((r) => r.day === date)) by_type[row.discrepancy_type] = row.count;
      points.push({ date, total: Object.values(by_type).reduce((a, b) => a + b, 0), by_type });
      if (points.length > 366) break;
    }
    return points;
  }
}
