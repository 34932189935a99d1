/**
 * The analytics SQL (seed 000 AnalyticsDashboard and ScriptAnalytics), computed from `script_executions`
 * in PostgreSQL. No imports on purpose: `bench/registry.mjs` loads this file's build
 * (`apps/script-registry/dist/analytics/analytics.queries.js`) to EXPLAIN exactly what the endpoint runs.
 *
 * Definitions (docs/registry-templates-bindings-runs.md):
 *  - only real runs: dry runs (`dry_run = true`) are left out everywhere;
 *  - the range is `started_at` in [from, to);
 *  - `total_executions` counts every execution in the range, whatever its status;
 *  - finished = completed, failed or timeout (seed 000's success, failure, timeout); success_rate =
 *    100 x completed / finished, null without finished executions; a failure is failed or timeout;
 *  - durations are `metrics.duration_ms` of finished executions (the execution worker always records it;
 *    aggregates skip a missing one), rounded to 0.1 ms; the dashboard's averages are sums of durations over
 *    counts of durations (the daily stats keep both).
 */
export const FINISHED_STATUSES = ['completed', 'failed', 'timeout'] as const;

const FINISHED = `e.status IN ('completed', 'failed', 'timeout')`;
const FAILED = `e.status IN ('failed', 'timeout')`;
const DURATION = `(e.metrics->>'duration_ms')::double precision`;
const RATE = (successes: string, finished: string) => `round((100.0 * ${successes} / NULLIF(${finished}, 0))::numeric, 2)::double precision`;
const ROUND = (value: string) => `round((${value})::numeric, 1)::double precision`;

/** A finished execution's duration, null when it has none: the same expression the daily stats triggers use. */
const FINISHED_DURATION = `CASE WHEN ${FINISHED} AND jsonb_typeof(e.metrics->'duration_ms') = 'number' THEN ${DURATION} END`;

/** One script's figures from the executions of a part of the range (its ends): the daily stats' columns. */
const RAW_PART = (from: string, to: string) => `
      SELECT e.script_id, count(*) AS executions,
             count(*) FILTER (WHERE e.status = 'completed') AS successes,
             count(*) FILTER (WHERE ${FAILED}) AS failures,
             count(${FINISHED_DURATION}) AS durations,
             COALESCE(sum(${FINISHED_DURATION}), 0) AS duration_sum,
             max(e.started_at) AS last_started_at
        FROM script_executions e
       WHERE e.tenant_id = $1 AND e.started_at >= ${from} AND e.started_at < ${to} AND NOT e.dry_run
       GROUP BY e.script_id`;

const DAY_MS = 86_400_000;

/**
 * How DASHBOARD_SQL splits [from, to): the whole UTC days inside it, read from `script_execution_daily_stats`,
 * and the partial days at its ends, [from, headEnd) and [tailStart, to), read from the executions. Without
 * a whole day inside, all of it is read from the executions. Its parameters $5 to $8.
 */
export function dashboardDayParams(from: Date, to: Date): [headEnd: Date, tailStart: Date, firstDay: string, endDay: string] {
  const firstWhole = Math.ceil(from.getTime() / DAY_MS) * DAY_MS;
  const endWhole = Math.floor(to.getTime() / DAY_MS) * DAY_MS;
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  if (firstWhole >= endWhole) return [to, to, day(firstWhole), day(firstWhole)];
  return [new Date(firstWhole), new Date(endWhole), day(firstWhole), day(endWhole)];
}

/**
 * The tenant's dashboard: script counts (now), execution totals over the range and the `$4` most executed
 * scripts with their own figures. $1 tenant, $2 from, $3 to, $4 how many scripts, $5-$8 from
 * dashboardDayParams. The range's whole days come from the daily stats (one row per script and day, kept
 * by triggers in the writing transaction), its partial days at both ends from the executions through
 * `idx_executions_tenant_started`; per-script sums are aggregated once and the totals derived from them.
 * So its cost follows scripts x days, not executions.
 */
export const DASHBOARD_SQL = `
WITH per_script AS (
  SELECT script_id, sum(executions) AS executions, sum(successes) AS successes, sum(failures) AS failures,
         sum(durations) AS durations, sum(duration_sum) AS duration_sum, max(last_started_at) AS last_executed_at
    FROM (
      SELECT d.script_id, d.executions, d.successes, d.failures, d.durations, d.duration_sum, d.last_started_at
        FROM script_execution_daily_stats d
       WHERE d.tenant_id = $1 AND d.day >= $7::date AND d.day < $8::date
      UNION ALL ${RAW_PART('$2', '$5')}
      UNION ALL ${RAW_PART('$6', '$3')}
    ) parts
   GROUP BY script_id
  HAVING sum(executions) > 0
), totals AS (
  SELECT COALESCE(sum(executions), 0) AS executions, sum(successes) AS successes, sum(successes + failures) AS finished,
         sum(duration_sum) / NULLIF(sum(durations), 0) AS avg_duration_ms
    FROM per_script
), top AS (
  SELECT p.*, p.duration_sum / NULLIF(p.durations, 0) AS avg_duration_ms, s.name, s.status
    FROM per_script p JOIN scripts s ON s.id = p.script_id AND s.tenant_id = $1
   ORDER BY p.executions DESC, p.script_id
   LIMIT $4
)
SELECT (SELECT count(*) FROM scripts WHERE tenant_id = $1)::int AS total_scripts,
       (SELECT count(*) FROM scripts WHERE tenant_id = $1 AND status = 'active')::int AS active_scripts,
       t.executions::int AS total_executions,
       ${RATE('t.successes', 't.finished')} AS success_rate,
       ${ROUND('t.avg_duration_ms')} AS avg_duration_ms,
       (SELECT count(*) FROM per_script)::int AS executed_scripts,
       COALESCE((SELECT json_agg(json_build_object(
                   'script_id', top.script_id, 'name', top.name, 'status', top.status,
                   'total_executions', top.executions::int,
                   'success_rate', ${RATE('top.successes', 'top.successes + top.failures')},
                   'avg_duration_ms', ${ROUND('top.avg_duration_ms')},
                   'last_executed_at', top.last_executed_at)
                 ORDER BY top.executions DESC, top.script_id) FROM top), '[]'::json) AS scripts
  FROM totals t`;

/** The executions of ONE script in the range ($1 tenant, $2 script, $3 from, $4 to), via idx_executions_script_started. */
const SCRIPT_RANGE = `e.tenant_id = $1 AND e.script_id = $2 AND e.started_at >= $3 AND e.started_at < $4 AND NOT e.dry_run`;

/** One script's totals, average and p95 (percentile_cont over finished executions' durations). */
export const SCRIPT_SUMMARY_SQL = `
SELECT count(*)::int AS total_executions,
       ${RATE(`count(*) FILTER (WHERE e.status = 'completed')`, `count(*) FILTER (WHERE ${FINISHED})`)} AS success_rate,
       ${ROUND(`avg(${DURATION}) FILTER (WHERE ${FINISHED})`)} AS avg_duration_ms,
       ${ROUND(`percentile_cont(0.95) WITHIN GROUP (ORDER BY ${DURATION}) FILTER (WHERE ${FINISHED})`)} AS p95_duration_ms
  FROM script_executions e
 WHERE ${SCRIPT_RANGE}`;

/** One script's days (UTC) in the range, days without executions included (zeros, null average). */
export const SCRIPT_DAILY_TRENDS_SQL = `
WITH days AS (
  SELECT generate_series(date_trunc('day', $3::timestamptz AT TIME ZONE 'UTC'),
                         date_trunc('day', ($4::timestamptz - interval '1 microsecond') AT TIME ZONE 'UTC'),
                         interval '1 day') AS day
), per_day AS (
  SELECT date_trunc('day', e.started_at AT TIME ZONE 'UTC') AS day,
         count(*) AS executions,
         count(*) FILTER (WHERE e.status = 'completed') AS successes,
         count(*) FILTER (WHERE ${FAILED}) AS failures,
         avg(${DURATION}) FILTER (WHERE ${FINISHED}) AS avg_duration_ms
    FROM script_executions e
   WHERE ${SCRIPT_RANGE}
   GROUP BY 1
)
SELECT to_char(d.day, 'YYYY-MM-DD') AS date,
       COALESCE(p.executions, 0)::int AS executions,
       COALESCE(p.successes, 0)::int AS successes,
       COALESCE(p.failures, 0)::int AS failures,
       ${ROUND('p.avg_duration_ms')} AS avg_duration_ms
  FROM days d LEFT JOIN per_day p ON p.day = d.day
 ORDER BY d.day`;

/** The most frequent error messages of one script's failed and timed-out runs in the range. */
export const SCRIPT_TOP_ERRORS_SQL = `
SELECT e.error AS error_message, count(*)::int AS count, max(e.started_at) AS last_occurred
  FROM script_executions e
 WHERE ${SCRIPT_RANGE} AND ${FAILED} AND e.error IS NOT NULL
 GROUP BY e.error
 ORDER BY count(*) DESC, max(e.started_at) DESC
 LIMIT $5`;
