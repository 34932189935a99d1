import { ScheduleDefinitionError } from './cron';
import { planDueOccurrence } from './firing-plan';
import { compileSchedule, formatLocal, ScheduleDefinition } from './schedule-timing';

const cron = (cron_expression: string, timezone: string | null = 'UTC', extra: Partial<ScheduleDefinition> = {}): ScheduleDefinition => ({
  frequency: 'cron',
  cron_expression,
  timezone,
  interval_seconds: null,
  run_at: null,
  day_filter: 'all',
  ...extra,
});
const at = (iso: string) => new Date(iso);
const iso = (dates: (Date | null)[]) => dates.map((d) => d?.toISOString() ?? null);

/**
 * The firing chain as the scheduler runs it, with the clock injected: the clock jumps to each due
 * occurrence (plus a little lag), the job fires, and `next_run_at` moves on. Returns the fired instants.
 */
function simulate(definition: ScheduleDefinition, from: string, until: string, lagMs = 150): string[] {
  const schedule = compileSchedule(definition);
  const fired: string[] = [];
  let nextRunAt = schedule.next(at(from));
  while (nextRunAt && nextRunAt.getTime() <= at(until).getTime()) {
    const now = new Date(nextRunAt.getTime() + lagMs);
    const plan = planDueOccurrence({ next_run_at: nextRunAt, misfire_policy: 'skip' }, schedule, now, 60_000);
    if (plan.kind === 'fire') fired.push(plan.scheduled_for.toISOString());
    nextRunAt = plan.next_run_at;
  }
  return fired;
}

describe('occurrences in Europe/Paris across daylight-saving changes (clock injected)', () => {
  // 2025: clocks go forward on 30 March at 02:00 CET (→ 03:00 CEST), back on 26 October at 03:00 CEST (→ 02:00 CET).
  const paris = (expression: string) => cron(expression, 'Europe/Paris');

  it('daily 02:30 in March: the missing 02:30 fires once, at 03:30 CEST (the instant 02:30 CET would have been)', () => {
    const fired = simulate(paris('30 2 * * *'), '2025-03-28T12:00:00Z', '2025-04-01T12:00:00Z');
    expect(fired).toEqual(['2025-03-29T01:30:00.000Z', '2025-03-30T01:30:00.000Z', '2025-03-31T00:30:00.000Z', '2025-04-01T00:30:00.000Z']);
    expect(fired.map((f) => formatLocal(new Date(f), 'Europe/Paris'))).toEqual([
      '2025-03-29T02:30:00+01:00',
      '2025-03-30T03:30:00+02:00',
      '2025-03-31T02:30:00+02:00',
      '2025-04-01T02:30:00+02:00',
    ]);
  });

  it('daily 02:30 in October: 02:30 happens twice on the wall clock and fires once, at the first pass', () => {
    const fired = simulate(paris('30 2 * * *'), '2025-10-24T12:00:00Z', '2025-10-28T12:00:00Z');
    expect(fired).toEqual(['2025-10-25T00:30:00.000Z', '2025-10-26T00:30:00.000Z', '2025-10-27T01:30:00.000Z', '2025-10-28T01:30:00.000Z']);
    expect(formatLocal(new Date(fired[1]), 'Europe/Paris')).toBe('2025-10-26T02:30:00+02:00');
  });

  it('hourly fires every real hour: 23 times on the spring day, 25 on the autumn day', () => {
    const spring = simulate(paris('0 * * * *'), '2025-03-29T22:59:59Z', '2025-03-30T21:59:59Z'); // 30 March, local midnight to midnight
    expect(spring).toHaveLength(23);
    expect(spring.slice(0, 3)).toEqual(['2025-03-29T23:00:00.000Z', '2025-03-30T00:00:00.000Z', '2025-03-30T01:00:00.000Z']);
    expect(spring.slice(0, 3).map((f) => formatLocal(new Date(f), 'Europe/Paris'))).toEqual(['2025-03-30T00:00:00+01:00', '2025-03-30T01:00:00+01:00', '2025-03-30T03:00:00+02:00']);

    const autumn = simulate(paris('0 * * * *'), '2025-10-25T21:59:59Z', '2025-10-26T22:59:59Z'); // 26 October, local midnight to midnight
    expect(autumn).toHaveLength(25);
    expect(autumn.slice(0, 4).map((f) => formatLocal(new Date(f), 'Europe/Paris'))).toEqual([
      '2025-10-26T00:00:00+02:00',
      '2025-10-26T01:00:00+02:00',
      '2025-10-26T02:00:00+02:00',
      '2025-10-26T02:00:00+01:00', // the repeated hour, a real hour later
    ]);
    // Every gap between consecutive runs is exactly one hour of real time.
    const gaps = autumn.slice(1).map((f, i) => Date.parse(f) - Date.parse(autumn[i]));
    expect(new Set(gaps)).toEqual(new Set([3_600_000]));
  });

  it('a fixed-hour job with minutes (*/30 2 * * *) runs in the first pass of the repeated hour only', () => {
    const fired = simulate(paris('*/30 2 * * *'), '2025-10-25T23:00:00Z', '2025-10-26T23:00:00Z');
    expect(fired).toEqual(['2025-10-26T00:00:00.000Z', '2025-10-26T00:30:00.000Z']);
  });

  it('every 6-field second keeps ticking through the autumn change (no doubled or lost second)', () => {
    const fired = simulate(paris('* * * * * *'), '2025-10-26T00:59:57Z', '2025-10-26T01:00:02Z', 100);
    expect(fired).toEqual(['58', '59', '00', '01', '02'].map((s, i) => `2025-10-26T${i < 2 ? '00:59' : '01:00'}:${s}.000Z`));
  });
});

describe('frequencies and day filters', () => {
  it('weekdays filter, in the schedule zone: Friday 23:30 New York is Saturday in UTC but still a weekday there', () => {
    const schedule = compileSchedule(cron('30 23 * * *', 'America/New_York', { day_filter: 'weekdays' }));
    // Friday 2025-06-06 23:30 EDT = Saturday 03:30 UTC; next are Monday and Tuesday.
    expect(iso(schedule.upcoming(at('2025-06-06T12:00:00Z'), 3))).toEqual(['2025-06-07T03:30:00.000Z', '2025-06-10T03:30:00.000Z', '2025-06-11T03:30:00.000Z']);
  });

  it('weekends filter skips whole weekdays without walking every second', () => {
    const schedule = compileSchedule(cron('* * * * * *', 'UTC', { day_filter: 'weekends' }));
    expect(schedule.next(at('2025-06-02T10:00:00Z'))).toEqual(at('2025-06-07T00:00:00Z')); // Monday → Saturday midnight
  });

  it('interval: slots anchored at run_at, the same on every replica', () => {
    const schedule = compileSchedule({ ...cron('@every 90s'), frequency: 'interval', interval_seconds: 90, run_at: at('2025-01-01T00:00:00Z') });
    expect(iso(schedule.upcoming(at('2025-01-01T00:02:00Z'), 3))).toEqual(['2025-01-01T00:03:00.000Z', '2025-01-01T00:04:30.000Z', '2025-01-01T00:06:00.000Z']);
    expect(schedule.next(at('2024-12-31T00:00:00Z'))).toEqual(at('2025-01-01T00:00:00Z'));
  });

  it('once: run_at, then nothing', () => {
    const schedule = compileSchedule({ ...cron('@once'), frequency: 'once', run_at: at('2025-05-01T08:00:00Z') });
    expect(schedule.next(at('2025-04-01T00:00:00Z'))).toEqual(at('2025-05-01T08:00:00Z'));
    expect(schedule.next(at('2025-05-01T08:00:00Z'))).toBeNull();
  });

  it('daily/weekly/monthly/yearly use the effective cron_expression', () => {
    const schedule = compileSchedule({ ...cron('0 6 1 * *'), frequency: 'monthly' });
    expect(iso(schedule.upcoming(at('2025-01-15T00:00:00Z'), 2))).toEqual(['2025-02-01T06:00:00.000Z', '2025-03-01T06:00:00.000Z']);
  });

  it('names the field of a definition that cannot be evaluated', () => {
    expect(() => compileSchedule({ ...cron('@every'), frequency: 'interval', interval_seconds: 0 })).toThrow(ScheduleDefinitionError);
    expect(() => compileSchedule({ ...cron('@once'), frequency: 'once' })).toThrow(/run_at/);
    expect(() => compileSchedule(cron('* * * * *', 'Nowhere/Else'))).toThrow(/timezone "Nowhere\/Else"/);
  });

  it('between counts the occurrences of a window, ends included, capped', () => {
    const schedule = compileSchedule(cron('* * * * *'));
    expect(schedule.between(at('2025-01-01T00:00:00Z'), at('2025-01-01T00:10:00Z'))).toEqual({ count: 11, last: at('2025-01-01T00:10:00Z'), capped: false });
    expect(schedule.between(at('2025-01-01T00:00:00Z'), at('2025-01-02T00:00:00Z'), 100)).toEqual({ count: 100, last: at('2025-01-02T00:00:00Z'), capped: true });
  });
});
