import { decideOutcome, RunState } from './run-outcome';

const slot = new Date('2025-01-01T10:00:00Z');
const state = (patch: Partial<RunState> = {}): RunState => ({
  status: 'active',
  is_running: true,
  last_run_at: slot,
  allow_concurrent: false,
  failure_action: 'continue',
  failure_threshold: 1,
  consecutive_failures: 0,
  success_count: 3,
  failure_count: 1,
  total_duration_ms: '4000',
  notify_on_success: false,
  notify_on_failure: false,
  ...patch,
});

describe('recording a run outcome', () => {
  it('a success closes the run, counts it and resets the failure streak', () => {
    expect(decideOutcome(state({ consecutive_failures: 2 }), { scheduled_for: slot, status: 'completed', duration_ms: 250.4 })).toEqual({
      kind: 'record',
      closes_run: true,
      changes: {
        is_running: false,
        locked_by: null,
        locked_until: null,
        last_run_status: 'completed',
        success_count: 4,
        consecutive_failures: 0,
        last_duration_ms: 250,
        total_duration_ms: '4250',
        last_error: null,
      },
      failure_action: null,
      notify: [],
    });
  });

  it.each([
    ['pause', 'paused'],
    ['disable', 'disabled'],
  ] as const)('failure_action %s applies once failure_threshold consecutive failures are reached', (action, status) => {
    const first = decideOutcome(state({ failure_action: action, failure_threshold: 2 }), { scheduled_for: slot, status: 'failed', duration_ms: 10, error: 'boom' });
    expect(first).toMatchObject({ kind: 'record', failure_action: null, changes: { consecutive_failures: 1, failure_count: 2, last_error: 'boom', last_run_status: 'failed' } });
    expect(first.kind === 'record' && first.changes.status).toBeUndefined();

    const second = decideOutcome(state({ failure_action: action, failure_threshold: 2, consecutive_failures: 1 }), { scheduled_for: slot, status: 'timeout', duration_ms: 30_000 });
    expect(second).toMatchObject({ kind: 'record', failure_action: action, changes: { consecutive_failures: 2, status, last_error: 'run timeout' } });
  });

  it('notify is reported to the caller; continue does nothing', () => {
    expect(decideOutcome(state({ failure_action: 'notify', notify_on_failure: true }), { scheduled_for: slot, status: 'failed', duration_ms: 1 })).toMatchObject({ failure_action: 'notify', notify: ['failure'] });
    expect(decideOutcome(state({ failure_action: 'continue' }), { scheduled_for: slot, status: 'failed', duration_ms: 1 })).toMatchObject({ failure_action: null, changes: { consecutive_failures: 1 } });
  });

  it('cancelled and skipped close the run without counting as success or failure', () => {
    const decision = decideOutcome(state({ consecutive_failures: 1 }), { scheduled_for: slot, status: 'cancelled', duration_ms: 5 });
    expect(decision).toEqual({ kind: 'record', closes_run: true, changes: { is_running: false, locked_by: null, locked_until: null, last_run_status: 'cancelled' }, failure_action: null, notify: [] });
  });

  it('a late result for a run already released as timed out is ignored (never counted twice)', () => {
    expect(decideOutcome(state({ is_running: false }), { scheduled_for: slot, status: 'completed', duration_ms: 1 })).toEqual({ kind: 'ignore', reason: 'already_closed' });
    const later = new Date(slot.getTime() + 60_000);
    expect(decideOutcome(state({ last_run_at: later }), { scheduled_for: slot, status: 'completed', duration_ms: 1 })).toEqual({ kind: 'ignore', reason: 'already_closed' });
  });

  it('with allow_concurrent an earlier run is counted without closing the latest one', () => {
    const later = new Date(slot.getTime() + 60_000);
    expect(decideOutcome(state({ allow_concurrent: true, last_run_at: later }), { scheduled_for: slot, status: 'completed', duration_ms: 7 })).toMatchObject({
      kind: 'record',
      closes_run: false,
      changes: { success_count: 4, total_duration_ms: '4007' },
    });
  });
});
