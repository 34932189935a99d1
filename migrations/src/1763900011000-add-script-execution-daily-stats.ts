import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per script and UTC day of `started_at`: how many executions, successes, failures and durations, kept in
 * step with `script_executions` by statement-level triggers (one aggregated upsert per statement, not per
 * row), in the writing transaction. The analytics dashboard reads whole days of its range from here and
 * only the partial days at its ends from the executions, so its cost follows scripts x days, not
 * executions. Dry runs are not counted (the analytics leave them out), nor rows without `started_at`.
 *
 * Derived data, no foreign keys: a deleted script's executions are subtracted by the delete trigger (its
 * rows then count zero and are removed). When an execution leaves a day (deleted, moved, turned into a dry
 * run), that day's latest start is read again and an emptied day is removed. Every statement upserts its keys in one order (tenant, day,
 * script), so concurrent writers queue on a row instead of deadlocking.
 */
const COUNTED = `NOT dry_run AND started_at IS NOT NULL`;
const FINISHED = `status IN ('completed', 'failed', 'timeout')`;
/** A finished execution's duration; null when it has none (or not a number). */
const DURATION = `CASE WHEN ${FINISHED} AND jsonb_typeof(metrics->'duration_ms') = 'number' THEN (metrics->>'duration_ms')::double precision END`;

/** The rows of a transition table as signed contributions. */
const contributions = (table: string, sign: 1 | -1) => `
  SELECT tenant_id, (started_at AT TIME ZONE 'UTC')::date AS day, script_id,
         ${sign} AS executions,
         CASE WHEN status = 'completed' THEN ${sign} ELSE 0 END AS successes,
         CASE WHEN status IN ('failed', 'timeout') THEN ${sign} ELSE 0 END AS failures,
         CASE WHEN (${DURATION}) IS NOT NULL THEN ${sign} ELSE 0 END AS durations,
         COALESCE(${sign} * (${DURATION}), 0) AS duration_sum,
         ${sign === 1 ? 'started_at' : 'NULL::timestamptz'} AS last_started_at
    FROM ${table} WHERE ${COUNTED}`;

/** Adds the summed contributions to their days; a statement that changes no count (a claim) writes nothing. */
const upsert = (source: string) => `
  INSERT INTO script_execution_daily_stats AS s (tenant_id, day, script_id, executions, successes, failures, durations, duration_sum, last_started_at)
  SELECT tenant_id, day, script_id, sum(executions), sum(successes), sum(failures), sum(durations), sum(duration_sum), max(last_started_at)
    FROM (${source}) c
   GROUP BY tenant_id, day, script_id
  HAVING sum(executions) <> 0 OR sum(successes) <> 0 OR sum(failures) <> 0 OR sum(durations) <> 0 OR sum(duration_sum) <> 0
   ORDER BY tenant_id, day, script_id
  ON CONFLICT (tenant_id, day, script_id) DO UPDATE SET
    executions = s.executions + EXCLUDED.executions,
    successes = s.successes + EXCLUDED.successes,
    failures = s.failures + EXCLUDED.failures,
    durations = s.durations + EXCLUDED.durations,
    duration_sum = s.duration_sum + EXCLUDED.duration_sum,
    last_started_at = GREATEST(s.last_started_at, EXCLUDED.last_started_at)`;

/**
 * For the days (keys) some executions left: their latest start is read again (GREATEST cannot go back) and
 * a day left without executions goes. `keys` selects (tenant_id, day, script_id).
 */
const refresh = (keys: string) => `
  UPDATE script_execution_daily_stats s
     SET last_started_at = (SELECT max(e.started_at) FROM script_executions e
                             WHERE e.script_id = s.script_id AND NOT e.dry_run
                               AND e.started_at >= (s.day::timestamp AT TIME ZONE 'UTC')
                               AND e.started_at < ((s.day + 1)::timestamp AT TIME ZONE 'UTC'))
   WHERE (s.tenant_id, s.day, s.script_id) IN (${keys});
  DELETE FROM script_execution_daily_stats s WHERE s.executions <= 0 AND (s.tenant_id, s.day, s.script_id) IN (${keys})`;

/** Days an updated execution left: now another day or script, a dry run, no start, or an earlier start. */
const LEFT_BY_UPDATE = `
  SELECT DISTINCT o.tenant_id, (o.started_at AT TIME ZONE 'UTC')::date, o.script_id
    FROM old_rows o JOIN new_rows n ON n.id = o.id
   WHERE NOT o.dry_run AND o.started_at IS NOT NULL
     AND (n.dry_run OR n.started_at IS NULL OR n.started_at < o.started_at OR n.script_id <> o.script_id OR n.tenant_id <> o.tenant_id
          OR (n.started_at AT TIME ZONE 'UTC')::date <> (o.started_at AT TIME ZONE 'UTC')::date)`;

const LEFT_BY_DELETE = `SELECT DISTINCT tenant_id, (started_at AT TIME ZONE 'UTC')::date, script_id FROM old_rows WHERE ${COUNTED}`;

export class AddScriptExecutionDailyStats1763900011000 implements MigrationInterface {
  name = 'AddScriptExecutionDailyStats1763900011000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE script_execution_daily_stats (
        tenant_id UUID NOT NULL,
        day DATE NOT NULL,
        script_id UUID NOT NULL,
        executions BIGINT NOT NULL DEFAULT 0,
        successes BIGINT NOT NULL DEFAULT 0,
        failures BIGINT NOT NULL DEFAULT 0,
        durations BIGINT NOT NULL DEFAULT 0,
        duration_sum DOUBLE PRECISION NOT NULL DEFAULT 0,
        last_started_at TIMESTAMP WITH TIME ZONE,
        PRIMARY KEY (tenant_id, day, script_id)
      )`);
    await queryRunner.query(`
      CREATE FUNCTION script_execution_daily_stats_apply() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          ${upsert(contributions('new_rows', 1))};
        ELSIF TG_OP = 'UPDATE' THEN
          ${upsert(`${contributions('new_rows', 1)} UNION ALL ${contributions('old_rows', -1)}`)};
          IF EXISTS (${LEFT_BY_UPDATE}) THEN
            ${refresh(LEFT_BY_UPDATE)};
          END IF;
        ELSE
          ${upsert(contributions('old_rows', -1))};
          ${refresh(LEFT_BY_DELETE)};
        END IF;
        RETURN NULL;
      END $$`);
    await queryRunner.query(`CREATE TRIGGER trg_script_execution_daily_stats_insert AFTER INSERT ON script_executions
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION script_execution_daily_stats_apply()`);
    await queryRunner.query(`CREATE TRIGGER trg_script_execution_daily_stats_update AFTER UPDATE ON script_executions
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION script_execution_daily_stats_apply()`);
    await queryRunner.query(`CREATE TRIGGER trg_script_execution_daily_stats_delete AFTER DELETE ON script_executions
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION script_execution_daily_stats_apply()`);
    // The executions already there.
    await queryRunner.query(upsert(contributions('script_executions', 1)));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TRIGGER trg_script_execution_daily_stats_delete ON script_executions');
    await queryRunner.query('DROP TRIGGER trg_script_execution_daily_stats_update ON script_executions');
    await queryRunner.query('DROP TRIGGER trg_script_execution_daily_stats_insert ON script_executions');
    await queryRunner.query('DROP FUNCTION script_execution_daily_stats_apply()');
    await queryRunner.query('DROP TABLE script_execution_daily_stats');
  }
}
