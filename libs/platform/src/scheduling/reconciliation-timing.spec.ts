import { ScheduleDefinitionError } from './cron';
import { planDueOccurrence } from './firing-plan';
import { compileReconciliationSchedule, normalizeReconciliationSchedule, ReconciliationScheduleDefinition, reconciliationCronOf } from './reconciliation-timing';

const def = (d: Partial<ReconciliationScheduleDefinition>): ReconciliationScheduleDefinition => ({
  frequency: 'daily',
  hour_of_day: 0,
  day_of_week: null,
  day_of_month: null,
  cron_expression: null,
  ...d,
});
const next = (d: Partial<ReconciliationScheduleDefinition>, after: string, count = 3) =>
  compileReconciliationSchedule(def(d))
    .upcoming(new Date(after), count)
    .map((t) => t.toISOString());
const fieldOf = (d: Partial<ReconciliationScheduleDefinition>) => {
  try {
    compileReconciliationSchedule(def(d));
  } catch (error) {
    if (error instanceof ScheduleDefinitionError) return `${error.field}: ${error.message}`;
    throw error;
  }
  return 'valid';
};

describe('reconciliation schedule timing (UTC)', () => {
  it('hourly: minute 0 of every hour, hour_of_day does not apply', () => {
    expect(next({ frequency: 'hourly', hour_of_day: 5 }, '2025-01-01T10:00:00Z')).toEqual(['2025-01-01T11:00:00.000Z', '2025-01-01T12:00:00.000Z', '2025-01-01T13:00:00.000Z']);
    expect(next({ frequency: 'hourly' }, '2025-01-01T10:59:59.999Z', 1)).toEqual(['2025-01-01T11:00:00.000Z']);
  });

  it('daily: at hour_of_day, strictly after the instant', () => {
    expect(next({ frequency: 'daily', hour_of_day: 2 }, '2025-03-30T01:59:00Z')).toEqual(['2025-03-30T02:00:00.000Z', '2025-03-31T02:00:00.000Z', '2025-04-01T02:00:00.000Z']);
    expect(next({ frequency: 'daily', hour_of_day: 2 }, '2025-03-30T02:00:00Z', 1)).toEqual(['2025-03-31T02:00:00.000Z']);
    expect(next({ frequency: 'daily', hour_of_day: 23 }, '2024-12-31T23:30:00Z', 1)).toEqual(['2025-01-01T23:00:00.000Z']);
  });

  it('weekly: on day_of_week (0 Sunday) at hour_of_day', () => {
    // 2025-01-01 is a Wednesday.
    expect(next({ frequency: 'weekly', day_of_week: 0, hour_of_day: 4 }, '2025-01-01T00:00:00Z')).toEqual(['2025-01-05T04:00:00.000Z', '2025-01-12T04:00:00.000Z', '2025-01-19T04:00:00.000Z']);
    expect(next({ frequency: 'weekly', day_of_week: 3, hour_of_day: 4 }, '2025-01-01T03:00:00Z', 2)).toEqual(['2025-01-01T04:00:00.000Z', '2025-01-08T04:00:00.000Z']);
    expect(next({ frequency: 'weekly', day_of_week: 6, hour_of_day: 0 }, '2025-01-04T00:00:00Z', 1)).toEqual(['2025-01-11T00:00:00.000Z']);
  });

  it('monthly: on day_of_month at hour_of_day', () => {
    expect(next({ frequency: 'monthly', day_of_month: 15, hour_of_day: 6 }, '2025-01-20T00:00:00Z')).toEqual(['2025-02-15T06:00:00.000Z', '2025-03-15T06:00:00.000Z', '2025-04-15T06:00:00.000Z']);
    expect(next({ frequency: 'monthly', day_of_month: 1 }, '2025-12-01T00:00:00Z', 1)).toEqual(['2026-01-01T00:00:00.000Z']);
  });

  it('monthly on the 31st: the last day of shorter months, every month once', () => {
    expect(next({ frequency: 'monthly', day_of_month: 31, hour_of_day: 22 }, '2025-01-01T00:00:00Z', 5)).toEqual([
      '2025-01-31T22:00:00.000Z',
      '2025-02-28T22:00:00.000Z',
      '2025-03-31T22:00:00.000Z',
      '2025-04-30T22:00:00.000Z',
      '2025-05-31T22:00:00.000Z',
    ]);
    expect(next({ frequency: 'monthly', day_of_month: 29 }, '2024-02-01T00:00:00Z', 2)).toEqual(['2024-02-29T00:00:00.000Z', '2024-03-29T00:00:00.000Z']);
    expect(next({ frequency: 'monthly', day_of_month: 30, hour_of_day: 1 }, '2025-02-28T01:00:00Z', 1)).toEqual(['2025-03-30T01:00:00.000Z']);
    const missed = compileReconciliationSchedule(def({ frequency: 'monthly', day_of_month: 31 })).between(new Date('2025-01-31T00:00:00Z'), new Date('2025-05-01T00:00:00Z'));
    expect(missed).toEqual({ count: 4, last: new Date('2025-04-30T00:00:00Z'), capped: false });
  });

  it('cron: the expression, 5 or 6 fields, in UTC', () => {
    expect(next({ frequency: 'cron', cron_expression: '30 3 * * 1-5' }, '2025-01-03T04:00:00Z', 2)).toEqual(['2025-01-06T03:30:00.000Z', '2025-01-07T03:30:00.000Z']);
    expect(next({ frequency: 'cron', cron_expression: '*/20 * * * * *' }, '2025-01-01T00:00:00Z', 2)).toEqual(['2025-01-01T00:00:20.000Z', '2025-01-01T00:00:40.000Z']);
    expect(next({ frequency: 'cron', cron_expression: '@weekly' }, '2025-01-01T00:00:00Z', 1)).toEqual(['2025-01-05T00:00:00.000Z']);
  });

  it('the effective cron of each frequency', () => {
    expect(reconciliationCronOf(def({ frequency: 'hourly' }))).toBe('0 * * * *');
    expect(reconciliationCronOf(def({ frequency: 'daily', hour_of_day: 7 }))).toBe('0 7 * * *');
    expect(reconciliationCronOf(def({ frequency: 'weekly', hour_of_day: 7, day_of_week: 1 }))).toBe('0 7 * * 1');
    expect(reconciliationCronOf(def({ frequency: 'monthly', hour_of_day: 7, day_of_month: 28 }))).toBe('0 7 28 * *');
    expect(reconciliationCronOf(def({ frequency: 'monthly', hour_of_day: 7, day_of_month: 30 }))).toBeNull();
  });

  it('keeps only the fields a frequency uses', () => {
    expect(normalizeReconciliationSchedule(def({ frequency: 'daily', hour_of_day: 3, day_of_week: 2, day_of_month: 4, cron_expression: '* * * * *' }))).toMatchObject({ hour_of_day: 3, day_of_week: null, day_of_month: null, cron_expression: null });
    expect(normalizeReconciliationSchedule(def({ frequency: 'cron', hour_of_day: 3, cron_expression: '  0   1 * * * ' }))).toMatchObject({ hour_of_day: 0, cron_expression: '0 1 * * *' });
  });

  it('names the field at fault', () => {
    expect(fieldOf({ frequency: 'weekly' })).toBe('day_of_week: a weekly schedule needs day_of_week (0-6)');
    expect(fieldOf({ frequency: 'weekly', day_of_week: 7 })).toBe('day_of_week: day_of_week must be a whole number from 0 to 6');
    expect(fieldOf({ frequency: 'monthly' })).toBe('day_of_month: a monthly schedule needs day_of_month (1-31)');
    expect(fieldOf({ frequency: 'monthly', day_of_month: 0 })).toBe('day_of_month: day_of_month must be a whole number from 1 to 31');
    expect(fieldOf({ frequency: 'daily', hour_of_day: 24 })).toBe('hour_of_day: hour_of_day must be a whole number from 0 to 23');
    expect(fieldOf({ frequency: 'daily', hour_of_day: 1.5 })).toBe('hour_of_day: hour_of_day must be a whole number from 0 to 23');
    expect(fieldOf({ frequency: 'cron' })).toBe('cron_expression: a cron schedule needs cron_expression');
    expect(fieldOf({ frequency: 'cron', cron_expression: '61 * * * *' })).toBe('cron_expression: cron_expression "61 * * * *": minute field "61": 61 is outside 0-59');
    expect(fieldOf({ frequency: 'cron', cron_expression: 'x'.repeat(300) })).toMatch(/^cron_expression: cron_expression is longer than 255/);
    expect(fieldOf({ frequency: 'yearly' as never })).toMatch(/^frequency: frequency "yearly" is not one of hourly, daily, weekly, monthly, cron/);
  });

  it('after a long outage, the scheduler fires once, for the latest missed occurrence, then moves past now', () => {
    const hourly = compileReconciliationSchedule(def({ frequency: 'hourly' }));
    const plan = planDueOccurrence({ next_run_at: new Date('2025-01-01T10:00:00Z'), misfire_policy: 'run_once' }, hourly, new Date('2025-01-01T15:30:00Z'), 60_000);
    expect(plan).toEqual({ kind: 'fire', scheduled_for: new Date('2025-01-01T15:00:00Z'), catch_up: true, skipped: 5, next_run_at: new Date('2025-01-01T16:00:00Z') });
    const onTime = planDueOccurrence({ next_run_at: new Date('2025-01-01T10:00:00Z'), misfire_policy: 'run_once' }, hourly, new Date('2025-01-01T10:00:01Z'), 60_000);
    expect(onTime).toEqual({ kind: 'fire', scheduled_for: new Date('2025-01-01T10:00:00Z'), catch_up: false, skipped: 0, next_run_at: new Date('2025-01-01T11:00:00Z') });
  });
});
