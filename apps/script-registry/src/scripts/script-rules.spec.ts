import { DEFAULT_RESOURCE_LIMITS } from '@provisio/persistence';
import { InvalidTransitionError, ValidationError } from '@provisio/platform';
import { checkTransition, checkTriggers, cronProblem, isHttpPath, isTimeZone, JOB_STATUS_OF, mergeTriggers, resolveResourceLimits, resolveStatus, Triggers } from './script-rules';

const none: Omit<Triggers, 'type'> = { cron_expression: null, timezone: null, http_path: null, http_methods: null, event_types: null };

function fieldOf(run: () => void): string | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof ValidationError) return error.field;
    throw error;
  }
  return undefined;
}

describe('script rules', () => {
  it.each([
    ['*/5 * * * *', null],
    ['0 30 9 * * 1-5', null],
    ['* * * *', 'cron_expression must have 5 or 6 fields, not 4'],
    ['0 0 0 * * * *', 'cron_expression must have 5 or 6 fields, not 7'],
    ['61 * * * *', expect.stringMatching(/^cron_expression is invalid/)],
    ['@daily', 'cron_expression must have 5 or 6 fields, not 1'],
  ])('cron %s', (expression, problem) => {
    expect(cronProblem(expression)).toEqual(problem);
  });

  it.each([
    ['UTC', true],
    ['Europe/Paris', true],
    ['America/Argentina/Buenos_Aires', true],
    ['Etc/GMT+1', true],
    ['Mars/Olympus', false],
    ['+01:00', false],
    ['', false],
  ])('time zone %s', (zone, ok) => expect(isTimeZone(zone)).toBe(ok));

  it.each([
    ['/hooks/welcome', true],
    ['/', true],
    ['/a/b.c/~d_e-f/', true],
    ['/.well-known/x', true],
    ['hooks', false],
    ['/a//b', false],
    ['/a/../b', false],
    ['/a b', false],
    ['/a?b=c', false],
    ['/' + 'a'.repeat(500), false],
  ])('http path %s', (path, ok) => expect(isHttpPath(path)).toBe(ok));

  it.each<[Triggers, string | undefined]>([
    [{ type: 'scheduled', ...none, cron_expression: '0 * * * *' }, undefined],
    [{ type: 'scheduled', ...none }, 'cron_expression'],
    [{ type: 'scheduled', ...none, cron_expression: '0 * * * *', timezone: 'Nowhere/Land' }, 'timezone'],
    [{ type: 'http', ...none, http_path: '/x', http_methods: ['GET'] }, undefined],
    [{ type: 'http', ...none, http_methods: ['GET'] }, 'http_path'],
    [{ type: 'http', ...none, http_path: '/x', http_methods: [] }, 'http_methods'],
    [{ type: 'event', ...none, event_types: ['user.created'] }, undefined],
    [{ type: 'event', ...none, event_types: [] }, 'event_types'],
    [{ type: 'oneoff', ...none, cron_expression: '0 * * * *' }, 'cron_expression'],
    [{ type: 'embedded', ...none, event_types: ['user.created'] }, 'event_types'],
    [{ type: 'event', ...none, event_types: ['user.created'], timezone: 'UTC' }, 'timezone'],
    [{ type: 'embedded', ...none }, undefined],
  ])('triggers %o → field %s', (triggers, field) => {
    expect(fieldOf(() => checkTriggers(triggers))).toBe(field);
  });

  it('clears the old type’s trigger fields when the type changes, unless restated', () => {
    const current: Triggers = { type: 'event', ...none, event_types: ['user.created'] };
    expect(mergeTriggers(current, { type: 'scheduled', cron_expression: '0 * * * *' })).toEqual({ type: 'scheduled', ...none, cron_expression: '0 * * * *', timezone: 'UTC' });
    expect(mergeTriggers(current, { event_types: ['user.deleted'] })).toEqual({ type: 'event', ...none, event_types: ['user.deleted'] });
    expect(mergeTriggers({ type: 'scheduled', ...none, cron_expression: '0 * * * *', timezone: 'Europe/Paris' }, { timezone: null }).timezone).toBe('UTC');
  });

  it('fills missing resource limits with the defaults and merges updates into the current ones', () => {
    expect(resolveResourceLimits(undefined)).toEqual(DEFAULT_RESOURCE_LIMITS);
    expect(resolveResourceLimits({ max_memory_bytes: 2 * 1024 * 1024 })).toEqual({ ...DEFAULT_RESOURCE_LIMITS, max_memory_bytes: 2 * 1024 * 1024 });
    const current = { ...DEFAULT_RESOURCE_LIMITS, max_concurrent_runs: 9 };
    expect(resolveResourceLimits({ max_execution_time_ms: 1000 }, current)).toEqual({ ...current, max_execution_time_ms: 1000 });
  });

  it('accepts seed 000’s inactive as disabled and enforces the lifecycle', () => {
    expect(resolveStatus('inactive')).toBe('disabled');
    expect(resolveStatus('paused')).toBe('paused');
    expect(() => resolveStatus('deleted')).toThrow(ValidationError);
    expect(() => checkTransition('draft', 'active')).not.toThrow();
    expect(() => checkTransition('disabled', 'active')).not.toThrow();
    const error = (() => {
      try {
        checkTransition('draft', 'paused');
      } catch (e) {
        return e as InvalidTransitionError;
      }
    })();
    expect(error).toBeInstanceOf(InvalidTransitionError);
    expect(error?.details).toEqual({ from: 'draft', to: 'paused', allowed: ['active', 'archived'] });
    expect(() => checkTransition('archived', 'active')).toThrow(/allowed: none/);
  });

  it('mirrors the script status on its scheduled job (only active jobs run)', () => {
    expect(JOB_STATUS_OF).toEqual({ draft: 'paused', active: 'active', paused: 'paused', disabled: 'disabled', archived: 'disabled' });
  });
});
