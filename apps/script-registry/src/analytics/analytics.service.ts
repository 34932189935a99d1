import { Injectable } from '@nestjs/common';
import { NotFoundError, Principal, ValidationError } from '@provisio/platform';
import { TenantDatabase } from '@provisio/persistence';
import { DASHBOARD_SQL, dashboardDayParams, SCRIPT_DAILY_TRENDS_SQL, SCRIPT_SUMMARY_SQL, SCRIPT_TOP_ERRORS_SQL } from './analytics.queries';
import {
  AnalyticsDashboardDto,
  AnalyticsRangeQueryDto,
  DailyTrendDto,
  DashboardQueryDto,
  DEFAULT_RANGE_DAYS,
  MAX_RANGE_DAYS,
  ScriptAnalyticsDto,
  TopErrorDto,
} from './dtos/analytics.dto';

const DAY_MS = 24 * 60 * 60 * 1000;
export const TOP_ERRORS = 10;

export interface Range {
  from: Date;
  to: Date;
}

/** [from, to): default the last 30 days up to now; at most 366 days; `from` before `to`. */
export function resolveRange(query: AnalyticsRangeQueryDto, now = new Date()): Range {
  const to = query.to ? new Date(query.to) : now;
  const from = query.from ? new Date(query.from) : new Date(to.getTime() - DEFAULT_RANGE_DAYS * DAY_MS);
  if (from.getTime() >= to.getTime()) throw new ValidationError('from must be earlier than to', 'from');
  if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY_MS) throw new ValidationError(`the range from … to must be at most ${MAX_RANGE_DAYS} days`, 'from');
  return { from, to };
}

/**
 * Analytics (seed 000 AnalyticsDashboard, ScriptAnalytics), computed in SQL from `script_executions`
 * (analytics.queries.ts) over a time range, for the caller's tenant; dry runs are left out.
 */
@Injectable()
export class AnalyticsService {
  constructor(private readonly db: TenantDatabase) {}

  async dashboard(principal: Principal, query: DashboardQueryDto): Promise<AnalyticsDashboardDto> {
    const range = resolveRange(query);
    const [row] = await this.db.read(principal).query<Omit<AnalyticsDashboardDto, 'from' | 'to'>>(DASHBOARD_SQL, [range.from, range.to, query.limit, ...dashboardDayParams(range.from, range.to)]);
    return { ...row, from: range.from.toISOString(), to: range.to.toISOString() };
  }

  async script(principal: Principal, scriptId: string, query: AnalyticsRangeQueryDto): Promise<ScriptAnalyticsDto> {
    const range = resolveRange(query);
    const db = this.db.read(principal);
    const params = [scriptId, range.from, range.to];
    const [script, [summary], daily, errors] = await Promise.all([
      db.one<{ name: string }>('SELECT name FROM scripts WHERE tenant_id = $1 AND id = $2', [scriptId]),
      db.query<Pick<ScriptAnalyticsDto, 'total_executions' | 'success_rate' | 'avg_duration_ms' | 'p95_duration_ms'>>(SCRIPT_SUMMARY_SQL, params),
      db.query<DailyTrendDto>(SCRIPT_DAILY_TRENDS_SQL, params),
      db.query<TopErrorDto>(SCRIPT_TOP_ERRORS_SQL, [...params, TOP_ERRORS]),
    ]);
    if (!script) throw new NotFoundError('script', scriptId);
    return { script_id: scriptId, name: script.name, ...summary, daily_trends: daily, top_errors: errors, from: range.from.toISOString(), to: range.to.toISOString() };
  }
}
