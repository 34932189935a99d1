import type { ReconciliationFrequency, ReconciliationSchedule } from '@provisio/persistence';
import { ScheduleDefinitionError } from './cron';
import { compileSchedule, Schedule } from './schedule-timing';

/**
 * When a reconciliation schedule (seed 002's ReconciliationSchedule) comes due: its frequency and
 * `hour_of_day`, `day_of_week`, `day_of_month`, `cron_expression`, in UTC (the seed has no time zone).
 * Pure. The reconciler computes `next_run_at` with it on create and update; the scheduler advances it
 * after each firing with the same code.
 *
 * - `hourly`: at minute 0 of every hour (`hour_of_day` does not apply).
 * - `daily`: every day at `hour_of_day`:00.
 * - `weekly`: on `day_of_week` (0 Sunday … 6 Saturday) at `hour_of_day`:00.
 * - `monthly`: on `day_of_month` at `hour_of_day`:00; in a month without that day (the 31st in April,
 *   the 29th–31st in February) on the month's last day, so a monthly schedule never skips a month.
 * - `cron`: `cron_expression` (5 fields, or 6 with seconds first, or a descriptor such as `@daily`).
 *
 * All but the clamped monthly days are cron expressions evaluated by the scheduler's cron timing
 * (`compileSchedule`), so validation messages and edge cases are the same as for script schedules.
 */
export type ReconciliationScheduleDefinition = Pick<ReconciliationSchedule, 'frequency' | 'day_of_week' | 'day_of_month' | 'cron_expression'> & {
  hour_of_day: number | null;
  /** Seeds `H` (hashed) cron fields: the schedule's id. */
  seed?: string;
};

const FREQUENCIES: readonly ReconciliationFrequency[] = ['hourly', 'daily', 'weekly', 'monthly', 'cron'];

function integerIn(field: 'hour_of_day' | 'day_of_week' | 'day_of_month', value: unknown, min: number, max: number, frequency: string): number {
  if (value === null || value === undefined) throw new ScheduleDefinitionError(field, `a ${frequency} schedule needs ${field} (${min}-${max})`);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ScheduleDefinitionError(field, `${field} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

/**
 * The definition with only the fields its frequency uses (the others NULL, `hour_of_day` 0 where it does
 * not apply), checked: throws `ScheduleDefinitionError` naming the field at fault.
 */
export function normalizeReconciliationSchedule(definition: ReconciliationScheduleDefinition): ReconciliationScheduleDefinition {
  const { frequency } = definition;
  if (!FREQUENCIES.includes(frequency)) throw new ScheduleDefinitionError('frequency', `frequency "${String(frequency)}" is not one of ${FREQUENCIES.join(', ')}`);
  const base = { frequency, hour_of_day: 0, day_of_week: null, day_of_month: null, cron_expression: null, seed: definition.seed };
  switch (frequency) {
    case 'hourly':
      return base;
    case 'daily':
      return { ...base, hour_of_day: integerIn('hour_of_day', definition.hour_of_day ?? 0, 0, 23, frequency) };
    case 'weekly':
      return { ...base, hour_of_day: integerIn('hour_of_day', definition.hour_of_day ?? 0, 0, 23, frequency), day_of_week: integerIn('day_of_week', definition.day_of_week, 0, 6, frequency) };
    case 'monthly':
      return { ...base, hour_of_day: integerIn('hour_of_day', definition.hour_of_day ?? 0, 0, 23, frequency), day_of_month: integerIn('day_of_month', definition.day_of_month, 1, 31, frequency) };
    case 'cron': {
      const expression = typeof definition.cron_expression === 'string' ? definition.cron_expression.trim().replace(/\s+/g, ' ') : '';
      if (!expression) throw new ScheduleDefinitionError('cron_expression', 'a cron schedule needs cron_expression');
      if (expression.length > 255) throw new ScheduleDefinitionError('cron_expression', 'cron_expression is longer than 255 characters');
      return { ...base, cron_expression: expression };
    }
  }
}

/** The cron expression a definition stands for; null for a monthly day that some months lack (29–31). */
export function reconciliationCronOf(definition: ReconciliationScheduleDefinition): string | null {
  const d = normalizeReconciliationSchedule(definition);
  switch (d.frequency) {
    case 'hourly':
      return '0 * * * *';
    case 'daily':
      return `0 ${d.hour_of_day} * * *`;
    case 'weekly':
      return `0 ${d.hour_of_day} * * ${d.day_of_week}`;
    case 'monthly':
      return d.day_of_month! <= 28 ? `0 ${d.hour_of_day} ${d.day_of_month} * *` : null;
    case 'cron':
      return d.cron_expression;
  }
}

/** A monthly day some months lack: that day, or the month's last day when it is shorter. UTC. */
function clampedMonthly(day: number, hour: number): Schedule {
  const next = (after: Date): Date => {
    let year = after.getUTCFullYear();
    let month = after.getUTCMonth();
    for (;;) {
      const last = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
      const at = new Date(Date.UTC(year, month, Math.min(day, last), hour));
      if (at.getTime() > after.getTime()) return at;
      if (++month === 12) [month, year] = [0, year + 1];
    }
  };
  return {
    timezone: 'UTC',
    next,
    upcoming(after, count) {
      const out: Date[] = [];
      for (let t = after; out.length < count; ) out.push((t = next(t)));
      return out;
    },
    between(from, to, cap = 1_000) {
      let count = 0;
      let last: Date | null = null;
      for (let t = next(new Date(from.getTime() - 1)); t.getTime() <= to.getTime(); t = next(t)) {
        if (count === cap) return { count, last, capped: true };
        count++;
        last = t;
      }
      return { count, last, capped: false };
    },
  };
}

/** The occurrences of a reconciliation schedule; throws `ScheduleDefinitionError` naming the field at fault. */
export function compileReconciliationSchedule(definition: ReconciliationScheduleDefinition): Schedule {
  const d = normalizeReconciliationSchedule(definition);
  const cron = reconciliationCronOf(d);
  if (cron === null) return clampedMonthly(d.day_of_month!, d.hour_of_day!);
  return compileSchedule({ frequency: 'cron', cron_expression: cron, timezone: 'UTC', interval_seconds: null, run_at: null, day_filter: 'all', seed: definition.seed });
}
