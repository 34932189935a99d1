import { CronExpression, CronExpressionParser, CronFieldCollection } from 'cron-parser';
import type { ScheduleDayFilter, ScriptScheduledJob } from '@provisio/persistence';
import { parseCronExpression, resolveTimeZone, ScheduleDefinitionError } from './cron';

/**
 * When a schedule's occurrences fall, as a pure function of its definition: no clock (every method takes
 * the instant it starts from), no I/O. Everything about time zones and daylight saving is here.
 *
 * - `cron`, `daily`, `weekly`, `monthly`, `yearly`: `cron_expression`, evaluated by cron-parser in the
 *   schedule's IANA zone. Across a DST change an occurrence keeps its wall-clock time: a local time that
 *   does not exist (02:30 on the spring-forward night in Paris) fires an hour later on the wall clock
 *   (03:30 CEST, the same instant 02:30 CET would have been), once; a local time that happens twice (02:30
 *   on the fall-back night) fires once, at the first pass. Expressions with a wildcard or step hour fire
 *   every real hour: hourly jobs run 23 times on the spring day and 25 times on the autumn day.
 * - `interval`: every `interval_seconds`, anchored at `run_at` (or the Unix epoch), so every replica
 *   computes the same slots.
 * - `once`: `run_at`.
 * `day_filter` (`weekdays`, `weekends`) drops occurrences whose local day (in the schedule's zone) is
 * filtered out.
 */
/** What the timing needs of a schedule: its definition columns (the `ScriptScheduledJob` entity's). */
export type ScheduleDefinition = Pick<ScriptScheduledJob, 'frequency' | 'cron_expression' | 'timezone' | 'interval_seconds' | 'run_at' | 'day_filter'> & {
  /** Seeds `H` (hashed) cron fields so they stay put: the schedule's id. */
  seed?: string;
};

export interface Schedule {
  /** The IANA zone the schedule is evaluated in. */
  readonly timezone: string;
  /** The first occurrence strictly after `after`; null when there is none (a `once` schedule that ran). */
  next(after: Date): Date | null;
  /** Up to `count` occurrences strictly after `after`, in order. */
  upcoming(after: Date, count: number): Date[];
  /**
   * The occurrences from `from` (included, when it is one) up to `to` (included): how many there are (at
   * most `cap`) and the last one. Used after a misfire.
   */
  between(from: Date, to: Date, cap?: number): { count: number; last: Date | null; capped: boolean };
}

type Base = { next(after: Date): Date | null; prev(before: Date): Date | null };

const MIDNIGHT: CronFieldCollection = CronExpressionParser.parse('0 0 0 * * *').fields;
const MAX_FILTERED_HOPS = 1_000;

function cronBase(fields: CronFieldCollection, tz: string): Base {
  const at = (currentDate: Date) => new CronExpression(fields, { tz, currentDate });
  return {
    // cron-parser searches strictly after / before `currentDate` (truncated to the second going forward).
    next: (after) => at(after).next().toDate(),
    prev: (before) => at(before).prev().toDate(),
  };
}

function intervalBase(seconds: number, anchor: Date | null): Base {
  const step = seconds * 1000;
  const origin = anchor?.getTime() ?? 0;
  return {
    next: (after) => {
      const t = after.getTime();
      if (t < origin) return new Date(origin);
      return new Date(origin + (Math.floor((t - origin) / step) + 1) * step);
    },
    prev: (before) => {
      const t = before.getTime();
      if (t <= origin) return null;
      return new Date(origin + Math.ceil((t - origin) / step - 1) * step);
    },
  };
}

function onceBase(runAt: Date): Base {
  return {
    next: (after) => (runAt.getTime() > after.getTime() ? runAt : null),
    prev: (before) => (runAt.getTime() < before.getTime() ? runAt : null),
  };
}

const weekdayFormats = new Map<string, Intl.DateTimeFormat>();

/** 0 (Sunday) … 6 (Saturday), on the wall clock of `tz`. */
export function localWeekday(date: Date, tz: string): number {
  let format = weekdayFormats.get(tz);
  if (!format) weekdayFormats.set(tz, (format = new Intl.DateTimeFormat('en-US', { timeZone: tz, weekday: 'short' })));
  return ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(format.format(date));
}

const localFormats = new Map<string, Intl.DateTimeFormat>();

/** `2025-03-30T03:30:00+02:00`: the instant on the wall clock of `tz`, with its offset. */
export function formatLocal(date: Date, tz: string): string {
  let format = localFormats.get(tz);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'longOffset',
    });
    localFormats.set(tz, format);
  }
  const part = Object.fromEntries(format.formatToParts(date).map((p) => [p.type, p.value]));
  const offset = part.timeZoneName === 'GMT' ? '+00:00' : part.timeZoneName.replace('GMT', '');
  return `${part.year}-${part.month}-${part.day}T${part.hour}:${part.minute}:${part.second}${offset}`;
}

function withDayFilter(base: Base, filter: ScheduleDayFilter, tz: string): Base {
  if (filter === 'all') return base;
  const wanted = (date: Date) => {
    const day = localWeekday(date, tz);
    return (day === 0 || day === 6) === (filter === 'weekends');
  };
  const midnight = cronBase(MIDNIGHT, tz);
  return {
    next: (after) => {
      let from = after;
      for (let hop = 0; hop < MAX_FILTERED_HOPS; hop++) {
        const candidate = base.next(from);
        if (!candidate || wanted(candidate)) return candidate;
        // Jump to the end of that local day rather than walking its every second.
        from = new Date(midnight.next(candidate)!.getTime() - 1);
      }
      return null;
    },
    prev: (before) => {
      let until = before;
      for (let hop = 0; hop < MAX_FILTERED_HOPS; hop++) {
        const candidate = base.prev(until);
        if (!candidate || wanted(candidate)) return candidate;
        until = midnight.prev(new Date(candidate.getTime() + 1))!;
      }
      return null;
    },
  };
}

function buildSchedule(definition: ScheduleDefinition): Schedule {
  const tz = resolveTimeZone(definition.timezone);
  let base: Base;
  switch (definition.frequency) {
    case 'once':
      if (!definition.run_at) throw new ScheduleDefinitionError('run_at', 'a once schedule needs run_at');
      base = onceBase(definition.run_at);
      break;
    case 'interval':
      if (!Number.isInteger(definition.interval_seconds) || (definition.interval_seconds ?? 0) <= 0) {
        throw new ScheduleDefinitionError('interval_seconds', 'an interval schedule needs interval_seconds, a whole number above 0');
      }
      base = intervalBase(definition.interval_seconds!, definition.run_at);
      break;
    case 'cron':
    case 'daily':
    case 'weekly':
    case 'monthly':
    case 'yearly':
      base = cronBase(parseCronExpression(definition.cron_expression, definition.seed).fields, tz);
      break;
    default:
      throw new ScheduleDefinitionError('frequency', `frequency "${String(definition.frequency)}" is not one of once, daily, weekly, monthly, yearly, cron, interval`);
  }
  const filtered = withDayFilter(base, definition.day_filter ?? 'all', tz);

  const next = (after: Date): Date | null => {
    try {
      return filtered.next(after);
    } catch (error) {
      // cron-parser gives up on expressions that have no further occurrence.
      if (/loop limit|out of the time span/i.test((error as Error).message)) return null;
      throw error;
    }
  };
  return {
    timezone: tz,
    next,
    upcoming(after, count) {
      const out: Date[] = [];
      for (let t: Date | null = after; out.length < count; ) {
        t = next(t);
        if (!t) break;
        out.push(t);
      }
      return out;
    },
    between(from, to, cap = 1_000) {
      // Walk forward, like the firing chain does, so the answer agrees with `next` across DST changes.
      let count = 0;
      let last: Date | null = null;
      // `from` itself counts when it is an occurrence: search from just before it.
      for (let t = next(new Date(from.getTime() - 1)); t && t.getTime() <= to.getTime(); t = next(t)) {
        if (count === cap) {
          const latest = (() => {
            try {
              return filtered.prev(new Date(to.getTime() + 1));
            } catch {
              return null;
            }
          })();
          return { count, last: latest ?? last, capped: true };
        }
        count++;
        last = t;
      }
      return { count, last, capped: false };
    },
  };
}

const compiled = new Map<string, Schedule>();
const CACHE_LIMIT = 5_000;

/**
 * The schedule of a definition; throws `ScheduleDefinitionError` naming the wrong field. Compiled
 * schedules are cached (parsing a cron costs ~100 µs), so thousands of jobs sharing `* * * * *` parse once.
 */
export function compileSchedule(definition: ScheduleDefinition): Schedule {
  const hashed = /H/.test(definition.cron_expression ?? '');
  const key = [
    definition.frequency,
    definition.cron_expression,
    definition.timezone ?? '',
    definition.day_filter ?? 'all',
    definition.interval_seconds ?? '',
    definition.run_at?.getTime() ?? '',
    hashed ? (definition.seed ?? '') : '',
  ].join('|');
  let schedule = compiled.get(key);
  if (!schedule) {
    schedule = memoizeNext(buildSchedule(definition));
    if (compiled.size >= CACHE_LIMIT) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, schedule);
  }
  return schedule;
}

/** Jobs sharing an expression come due together: the same `next(slot)` is asked many times in a row. */
function memoizeNext(schedule: Schedule): Schedule {
  let lastAfter = NaN;
  let lastResult: Date | null = null;
  return {
    ...schedule,
    next(after) {
      if (after.getTime() !== lastAfter) {
        lastResult = schedule.next(after);
        lastAfter = after.getTime();
      }
      return lastResult;
    },
  };
}
