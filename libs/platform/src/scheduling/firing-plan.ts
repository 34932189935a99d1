import type { MisfirePolicy } from '@provisio/persistence';
import type { Schedule } from './schedule-timing';

/**
 * What to do with a claimed, due job at `now`: pure, so the misfire policy is tested without a clock.
 *
 * An occurrence is *late* when it fires after its time and *misfired* when it is later than the misfire
 * threshold (default 60 s): every replica was down, the job's previous run held `is_running` for longer
 * than its period, or the script was paused. A late occurrence still fires (the lag is a metric); then
 * `next_run_at` moves to the occurrence after it, so a short outage is caught up one occurrence at a time
 * and nothing is lost. A misfired one follows the job's `misfire_policy`:
 * - `skip` (default): nothing fires; `next_run_at` jumps to the first occurrence after now; the missed
 *   occurrences are counted as skipped.
 * - `run_once`: one catch-up run fires now, for the most recent missed occurrence; the others are skipped;
 *   `next_run_at` jumps to the first occurrence after now.
 */
export type FiringPlan =
  | { kind: 'fire'; scheduled_for: Date; catch_up: boolean; skipped: number; next_run_at: Date | null }
  | { kind: 'skip'; skipped: number; next_run_at: Date | null };

export interface DueOccurrence {
  next_run_at: Date;
  misfire_policy: MisfirePolicy;
}

export function planDueOccurrence(job: DueOccurrence, schedule: Schedule, now: Date, misfireThresholdMs: number): FiringPlan {
  const due = job.next_run_at;
  if (now.getTime() - due.getTime() <= misfireThresholdMs) {
    return { kind: 'fire', scheduled_for: due, catch_up: false, skipped: 0, next_run_at: schedule.next(due) };
  }
  const missed = schedule.between(due, now);
  const count = Math.max(missed.count, 1); // `due` itself was missed, even if the definition no longer yields it
  const nextRunAt = schedule.next(now);
  if (job.misfire_policy === 'run_once') {
    const latest = missed.last && missed.last.getTime() > due.getTime() ? missed.last : due;
    return { kind: 'fire', scheduled_for: latest, catch_up: true, skipped: count - 1, next_run_at: nextRunAt };
  }
  return { kind: 'skip', skipped: count, next_run_at: nextRunAt };
}
