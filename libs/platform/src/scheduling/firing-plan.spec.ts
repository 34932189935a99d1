import { planDueOccurrence } from './firing-plan';
import { compileSchedule } from './schedule-timing';

const everyMinute = compileSchedule({ frequency: 'cron', cron_expression: '* * * * *', timezone: 'UTC', interval_seconds: null, run_at: null, day_filter: 'all' });
const due = new Date('2025-01-01T10:00:00Z');
const after = (ms: number) => new Date(due.getTime() + ms);
const THRESHOLD = 60_000;

describe('misfire policy', () => {
  it('fires a late occurrence within the threshold and moves to the one after it (catch-up, nothing lost)', () => {
    for (const misfire_policy of ['skip', 'run_once'] as const) {
      expect(planDueOccurrence({ next_run_at: due, misfire_policy }, everyMinute, after(45_000), THRESHOLD)).toEqual({
        kind: 'fire',
        scheduled_for: due,
        catch_up: false,
        skipped: 0,
        next_run_at: new Date('2025-01-01T10:01:00Z'),
      });
    }
  });

  it('skip (default): past the threshold nothing fires; next_run_at jumps past now; every missed occurrence is counted', () => {
    // Down from 10:00 to 10:05:30: 10:00 … 10:05 (6 occurrences) missed.
    expect(planDueOccurrence({ next_run_at: due, misfire_policy: 'skip' }, everyMinute, after(330_000), THRESHOLD)).toEqual({
      kind: 'skip',
      skipped: 6,
      next_run_at: new Date('2025-01-01T10:06:00Z'),
    });
  });

  it('run_once: one catch-up run for the latest missed occurrence, the rest skipped, then the next future one', () => {
    expect(planDueOccurrence({ next_run_at: due, misfire_policy: 'run_once' }, everyMinute, after(330_000), THRESHOLD)).toEqual({
      kind: 'fire',
      scheduled_for: new Date('2025-01-01T10:05:00Z'),
      catch_up: true,
      skipped: 5,
      next_run_at: new Date('2025-01-01T10:06:00Z'),
    });
  });

  it('a once schedule whose run_at passed while everything was down: skip drops it, run_once runs it', () => {
    const runAt = new Date('2025-01-01T10:00:00Z');
    const once = compileSchedule({ frequency: 'once', cron_expression: '@once', timezone: 'UTC', interval_seconds: null, run_at: runAt, day_filter: 'all' });
    const now = new Date('2025-01-02T00:00:00Z');
    expect(planDueOccurrence({ next_run_at: runAt, misfire_policy: 'skip' }, once, now, THRESHOLD)).toEqual({ kind: 'skip', skipped: 1, next_run_at: null });
    expect(planDueOccurrence({ next_run_at: runAt, misfire_policy: 'run_once' }, once, now, THRESHOLD)).toEqual({ kind: 'fire', scheduled_for: runAt, catch_up: true, skipped: 0, next_run_at: null });
  });

  it('a next_run_at the definition no longer yields (cron changed without resetting it) still counts as one missed', () => {
    const hourly = compileSchedule({ frequency: 'cron', cron_expression: '0 * * * *', timezone: 'UTC', interval_seconds: null, run_at: null, day_filter: 'all' });
    const odd = new Date('2025-01-01T10:17:00Z');
    expect(planDueOccurrence({ next_run_at: odd, misfire_policy: 'run_once' }, hourly, new Date('2025-01-01T10:30:00Z'), THRESHOLD)).toEqual({
      kind: 'fire',
      scheduled_for: odd,
      catch_up: true,
      skipped: 0,
      next_run_at: new Date('2025-01-01T11:00:00Z'),
    });
  });
});
