import type { RunRow } from './runs.repository';

/** The phases after reading, whose time the ETA adds from the connector's last completed run. */
const AFTER_READING = ['expecting', 'classifying', 'guarding', 'remediating'];

export interface RunProgress {
  phase: string;
  processed: number;
  total: number | null;
  accounts_per_second: number;
  eta_seconds: number | null;
  percent: number | null;
}

/**
 * Progress of a run from its row (the truth, whichever replica works it): accounts per second of the
 * reading phase and the ETA of the run's end, not only of its reading.
 *
 *  - reading: the accounts left (of the target's total; without one, of what the connector's last
 *    completed full run read) at the rate read since the first page (the connector's start and the
 *    first answer are not the pace of the rest: counted in, they skew an early ETA by ten times
 *    their length at 10%), plus what came after reading in the connector's
 *    last completed run of the same mode (classification, guard, remediation), per account, times the
 *    accounts of this run. Without such a run the ETA is the reading's alone.
 *  - after reading: that same time after reading, less what has passed since this run's reading ended.
 *  - done: 0; paused or awaiting approval: none (it waits for someone).
 */
export function progressOf(run: RunRow, now = Date.now()): RunProgress {
  const marks = run.progress_marks ?? {};
  const readingEnded = typeof marks.reading_ended_at === 'string' ? new Date(marks.reading_ended_at).getTime() : null;
  const end = run.completed_at ? new Date(run.completed_at).getTime() : run.phase === 'reading' ? now : (readingEnded ?? now);
  const rate = readingRate(run, end);
  const total = run.accounts_total;
  const previous = run.previous_run ?? null;
  const expectedTotal = total ?? (run.mode === 'full' && previous ? previous.accounts : null);
  const afterPerAccount = previous && previous.accounts > 0 && previous.after_reading_seconds !== null ? Math.max(0, previous.after_reading_seconds) / previous.accounts : null;
  let eta: number | null = null;
  if (run.phase === 'done') eta = 0;
  else if (run.status === 'running' && run.phase === 'reading' && expectedTotal !== null && rate > 0) {
    const reading = Math.max(0, expectedTotal - run.accounts_processed) / rate;
    eta = reading + (afterPerAccount ?? 0) * Math.max(expectedTotal, run.accounts_processed);
  } else if (run.status === 'running' && AFTER_READING.includes(run.phase) && afterPerAccount !== null && readingEnded !== null) {
    eta = Math.max(0, afterPerAccount * run.accounts_processed - (now - readingEnded) / 1000);
  }
  return {
    phase: run.phase,
    processed: run.accounts_processed,
    total,
    accounts_per_second: Math.round(rate * 10) / 10,
    eta_seconds: eta === null ? null : Math.round(eta * 10) / 10,
    percent: total ? Math.min(100, Math.round((1000 * run.accounts_processed) / total) / 10) : null,
  };
}

/** Accounts per second of the reading: from the first page on (once another page came), else from the phase's start. */
function readingRate(run: RunRow, end: number): number {
  const marks = run.progress_marks ?? {};
  const firstAt = typeof marks.first_page_at === 'string' ? new Date(marks.first_page_at).getTime() : null;
  const firstAccounts = typeof marks.first_page_accounts === 'number' ? marks.first_page_accounts : 0;
  if (run.phase === 'reading' && firstAt !== null && end - firstAt >= 200 && run.accounts_processed > firstAccounts) {
    return (run.accounts_processed - firstAccounts) / ((end - firstAt) / 1000);
  }
  const since = run.phase_started_at && run.phase === 'reading' ? new Date(run.phase_started_at).getTime() : new Date(run.started_at).getTime();
  return run.accounts_processed / Math.max(0.001, (end - since) / 1000);
}
