import { CronDate, CronExpression, CronExpressionParser, CronFieldCollection } from 'cron-parser';

/**
 * Cron expressions and time zones, validated with messages that name what is wrong. Pure: no clock, no
 * I/O. Evaluation (next occurrence, DST) lives in `schedule-timing.ts`. Shared by the scheduler (which
 * fires script and reconciliation schedules) and the reconciler (which validates its schedules and
 * computes their `next_run_at`).
 */

/**
 * A schedule that cannot be evaluated. `field` is the column at fault (of `script_scheduled_jobs`, or of
 * `reconciliation_schedules`: `hour_of_day`, `day_of_week`, `day_of_month`).
 */
export class ScheduleDefinitionError extends Error {
  constructor(
    readonly field: 'cron_expression' | 'timezone' | 'interval_seconds' | 'run_at' | 'day_filter' | 'frequency' | 'hour_of_day' | 'day_of_week' | 'day_of_month',
    message: string,
  ) {
    super(message);
    this.name = 'ScheduleDefinitionError';
  }
}

const FIELD_NAMES = ['second', 'minute', 'hour', 'day-of-month', 'month', 'day-of-week'] as const;

/** cron-parser's descriptors, as 6-field expressions (second first). */
export const CRON_DESCRIPTORS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 0 1 1 *',
  '@annually': '0 0 0 1 1 *',
  '@monthly': '0 0 0 1 * *',
  '@weekly': '0 0 0 * * 0',
  '@daily': '0 0 0 * * *',
  '@hourly': '0 0 * * * *',
  '@minutely': '0 * * * * *',
  '@secondly': '* * * * * *',
  '@weekdays': '0 0 0 * * 1-5',
  '@weekends': '0 0 0 * * 0,6',
};

export interface ParsedCron {
  /** The expression as given, whitespace normalised. */
  expression: string;
  /** Whether the expression has a seconds field (6 fields, or a descriptor). */
  hasSeconds: boolean;
  fields: CronFieldCollection;
}

/** cron-parser's messages, reworded to read after "minute field "61": ". */
function reword(message: string): string {
  const range = /got value (\S+) expected range (\S+)/.exec(message);
  if (range) return `${range[1]} is outside ${range[2]}`;
  const chars = /Invalid characters, got value: ?(.*)$/.exec(message);
  if (chars) return `invalid characters${chars[1] ? ` "${chars[1]}"` : ''}`;
  if (/cannot repeat at every 0 time/.test(message)) return 'a step must be at least 1';
  return message.replace(/^Constraint error, /, '').replace(/^./, (c) => c.toLowerCase());
}

/**
 * Parses a 5-field (`minute hour day-of-month month day-of-week`) or 6-field (`second minute …`) cron
 * expression, or one of `CRON_DESCRIPTORS`. Throws a `ScheduleDefinitionError` naming the field at fault.
 * `seed` fixes `H` (hashed) fields: pass the schedule's id, so a job's hashed minute never moves.
 */
export function parseCronExpression(expression: string, seed = ''): ParsedCron {
  const text = typeof expression === 'string' ? expression.trim().replace(/\s+/g, ' ') : '';
  if (!text) throw new ScheduleDefinitionError('cron_expression', 'cron_expression is empty');

  let six: string[];
  let hasSeconds: boolean;
  if (text.startsWith('@')) {
    const descriptor = CRON_DESCRIPTORS[text.toLowerCase()];
    if (!descriptor) {
      throw new ScheduleDefinitionError(
        'cron_expression',
        `cron_expression "${text}" is not a known descriptor; use 5 fields (minute hour day-of-month month day-of-week), 6 fields (second first) or one of ${Object.keys(CRON_DESCRIPTORS).join(', ')}`,
      );
    }
    six = descriptor.split(' ');
    hasSeconds = true;
  } else {
    const parts = text.split(' ');
    if (parts.length !== 5 && parts.length !== 6) {
      throw new ScheduleDefinitionError(
        'cron_expression',
        `cron_expression "${text}" has ${parts.length} field${parts.length === 1 ? '' : 's'}; expected 5 (minute hour day-of-month month day-of-week) or 6 (second minute hour day-of-month month day-of-week)`,
      );
    }
    hasSeconds = parts.length === 6;
    six = hasSeconds ? parts : ['0', ...parts];
  }

  // Each field alone, the others wildcards, so the message can say which field is wrong.
  for (let i = hasSeconds ? 0 : 1; i < 6; i++) {
    const probe = ['*', '*', '*', '*', '*', '*'];
    probe[i] = six[i];
    try {
      CronExpressionParser.parse(probe.join(' '), { hashSeed: seed });
    } catch (error) {
      throw new ScheduleDefinitionError('cron_expression', `cron_expression "${text}": ${FIELD_NAMES[i]} field "${six[i]}": ${reword((error as Error).message)}`);
    }
  }

  let fields: CronFieldCollection;
  try {
    fields = CronExpressionParser.parse(six.join(' '), { hashSeed: seed }).fields;
    // A combination that never occurs (31 April) fails here or on the first search.
    new CronExpression(fields, { tz: 'UTC', currentDate: new Date(Date.UTC(2000, 0, 1)) }).next();
  } catch (error) {
    const message = (error as Error).message;
    const reason = /explicit day of month/i.test(message)
      ? `day-of-month "${six[3]}" never occurs in month "${six[4]}"`
      : /loop limit/i.test(message)
        ? 'it never occurs'
        : reword(message);
    throw new ScheduleDefinitionError('cron_expression', `cron_expression "${text}": ${reason}`);
  }
  return { expression: text, hasSeconds, fields };
}

/** Whether a cron expression is valid; the error's message says why not. */
export function validateCronExpression(expression: string): { valid: true } | { valid: false; error: string } {
  try {
    parseCronExpression(expression);
    return { valid: true };
  } catch (error) {
    return { valid: false, error: (error as Error).message };
  }
}

/**
 * Checks an IANA time zone name (`Europe/Paris`, `UTC`); NULL and empty mean `UTC` (seed 001's
 * default). Offsets such as `+02:00` are refused: they have no daylight-saving rules.
 */
export function resolveTimeZone(timezone: string | null | undefined): string {
  const name = timezone?.trim() || 'UTC';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
  } catch {
    throw new ScheduleDefinitionError('timezone', `timezone "${name}" is not an IANA time zone (for example Europe/Paris, America/New_York or UTC)`);
  }
  // cron-parser evaluates in Luxon, which must know the zone too.
  if (Number.isNaN(new CronDate(0, name).getTime())) {
    throw new ScheduleDefinitionError('timezone', `timezone "${name}" is not supported by the cron evaluator`);
  }
  return name;
}
