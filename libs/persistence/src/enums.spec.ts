import {
  canTransition,
  EXECUTION_LOG_STATUSES,
  EXECUTION_STATUS_TRANSITIONS,
  EXECUTION_STATUSES,
  EXECUTION_STATUSES_BY_LOG_STATUS,
  OPERATION_STATUS_TRANSITIONS,
  OPERATION_STATUSES,
  RECONCILIATION_RUN_STATUSES,
  RECONCILIATION_RUN_TRANSITIONS,
  RESOLUTION_STATUS_TRANSITIONS,
  RESOLUTION_STATUSES,
  SCRIPT_STATUS_ALIASES,
  SCRIPT_STATUS_TRANSITIONS,
  SCRIPT_STATUSES,
  toExecutionLogStatus,
} from './enums';
import { TERMINAL_EXECUTION_STATUSES } from '@provisio/contracts';

describe('seed 000 ExecutionLog status over script_executions.status', () => {
  it('maps finished executions and leaves unfinished ones out', () => {
    expect(Object.fromEntries(EXECUTION_STATUSES.map((s) => [s, toExecutionLogStatus(s)]))).toEqual({
      pending: null,
      queued: null,
      running: null,
      completed: 'success',
      failed: 'failure',
      timeout: 'timeout',
      cancelled: 'skipped',
      skipped: 'skipped',
    });
  });

  it('has an inverse for filters that agrees with the mapping', () => {
    for (const log of EXECUTION_LOG_STATUSES) {
      for (const status of EXECUTION_STATUSES_BY_LOG_STATUS[log]) expect(toExecutionLogStatus(status)).toBe(log);
    }
    const covered = EXECUTION_LOG_STATUSES.flatMap((log) => EXECUTION_STATUSES_BY_LOG_STATUS[log]);
    expect([...covered].sort()).toEqual([...TERMINAL_EXECUTION_STATUSES].sort());
  });

  it('stores seed 000 `inactive` as `disabled`', () => {
    expect(SCRIPT_STATUS_ALIASES.inactive).toBe('disabled');
  });
});

describe('state transitions', () => {
  const maps = [
    ['script', SCRIPT_STATUSES, SCRIPT_STATUS_TRANSITIONS],
    ['execution', EXECUTION_STATUSES, EXECUTION_STATUS_TRANSITIONS],
    ['operation', OPERATION_STATUSES, OPERATION_STATUS_TRANSITIONS],
    ['reconciliation run', RECONCILIATION_RUN_STATUSES, RECONCILIATION_RUN_TRANSITIONS],
    ['discrepancy', RESOLUTION_STATUSES, RESOLUTION_STATUS_TRANSITIONS],
  ] as const;

  it.each(maps)('%s: every state has an entry and every edge ends in a known state', (_name, states, transitions) => {
    expect(Object.keys(transitions).sort()).toEqual([...states].sort());
    for (const targets of Object.values<readonly string[]>(transitions)) for (const t of targets) expect(states).toContain(t);
  });

  it('contains the seeds’ diagrams', () => {
    // seed 001: draft → active → paused/disabled → archived
    expect(canTransition(SCRIPT_STATUS_TRANSITIONS, 'draft', 'active')).toBe(true);
    expect(canTransition(SCRIPT_STATUS_TRANSITIONS, 'active', 'paused')).toBe(true);
    expect(canTransition(SCRIPT_STATUS_TRANSITIONS, 'disabled', 'archived')).toBe(true);
    expect(canTransition(SCRIPT_STATUS_TRANSITIONS, 'archived', 'active')).toBe(false);
    // seed 001 + 004: pending → queued → running → completed/failed/timeout/cancelled
    expect(canTransition(EXECUTION_STATUS_TRANSITIONS, 'pending', 'queued')).toBe(true);
    expect(canTransition(EXECUTION_STATUS_TRANSITIONS, 'running', 'timeout')).toBe(true);
    expect(canTransition(EXECUTION_STATUS_TRANSITIONS, 'completed', 'running')).toBe(false);
    // seed 002: failed → [retry] → pending, dead_letter → [retry] → pending | resolved
    expect(canTransition(OPERATION_STATUS_TRANSITIONS, 'failed', 'pending')).toBe(true);
    expect(canTransition(OPERATION_STATUS_TRANSITIONS, 'dead_letter', 'resolved')).toBe(true);
    expect(canTransition(OPERATION_STATUS_TRANSITIONS, 'pending', 'cancelled')).toBe(true);
    expect(canTransition(OPERATION_STATUS_TRANSITIONS, 'completed', 'pending')).toBe(false);
    // seed 002: paused → [resume] → running
    expect(canTransition(RECONCILIATION_RUN_TRANSITIONS, 'paused', 'running')).toBe(true);
    expect(canTransition(RESOLUTION_STATUS_TRANSITIONS, 'pending', 'ignored')).toBe(true);
  });
});
