import { copyField } from './copy-rows';
import { defaultCorrelationRules, identityExpression } from './correlation-rules';
import { progressOf } from '../runs/run-progress';
import type { RunRow } from '../runs/runs.repository';

describe('copyField (COPY text format)', () => {
  it('writes NULL as \\N and escapes what would end a field or a row', () => {
    expect(copyField(null)).toBe('\\N');
    expect(copyField('a\tb\nc\rd\\e')).toBe('a\\tb\\nc\\rd\\\\e');
    expect(copyField(42)).toBe('42');
    expect(copyField(false)).toBe('false');
  });

  it('makes text and JSON storable: NUL and lone surrogates become U+FFFD', () => {
    expect(copyField('x\u0000y')).toBe('x\uFFFDy');
    expect(copyField('\ud800')).toBe('\uFFFD');
    expect(copyField({ json: { a: 'x\u0000\ud800' } })).toBe('{"a":"x\uFFFD\uFFFD"}');
    // JSON escapes a tab as \t; COPY then doubles the backslash, so PostgreSQL reads the JSON text back.
    expect(copyField({ json: { b: 'tab\there' } })).toBe('{"b":"tab\\\\there"}');
  });
});

describe('correlation rules', () => {
  it('default to what the mapping writes from email, then from username', () => {
    expect(defaultCorrelationRules([{ target: 'uid', from: 'username', transforms: [], required: true }, { target: 'mail', from: 'email', transforms: [], required: false }])).toEqual([
      { identity_attribute: 'email', target_attribute: 'mail' },
      { identity_attribute: 'username', target_attribute: 'uid' },
    ]);
    expect(defaultCorrelationRules([{ target: 'cn', template: '{{username}}', transforms: [], required: false }])).toEqual([]);
  });

  it('bind an attributes path as a parameter, never as SQL text', () => {
    expect(identityExpression('email', 6)).toEqual({ sql: 'i.email' });
    expect(identityExpression("attributes.x'; DROP TABLE identities; --", 6)).toEqual({ sql: 'i.attributes #>> $6::text[]', value: ["x'; DROP TABLE identities; --"] });
  });
});

describe('progressOf', () => {
  const run = (fields: Partial<RunRow>): RunRow =>
    ({ status: 'running', mode: 'full', phase: 'reading', accounts_processed: 0, accounts_total: null, started_at: new Date(0), phase_started_at: new Date(0), completed_at: null, progress_marks: {}, previous_run: null, ...fields }) as RunRow;

  it('gives accounts per second and an ETA from the total when the target tells it', () => {
    const p = progressOf(run({ accounts_processed: 1000, accounts_total: 5000 }), 10_000);
    expect(p).toEqual({ phase: 'reading', processed: 1000, total: 5000, accounts_per_second: 100, eta_seconds: 40, percent: 20 });
  });

  it("adds what came after reading in the connector's last completed run, per account, and counts it down after reading", () => {
    const previous_run = { accounts: 2000, after_reading_seconds: 4 };
    // 40 s of reading left, then 5000 accounts at 2 ms each.
    expect(progressOf(run({ accounts_processed: 1000, accounts_total: 5000, previous_run }), 10_000).eta_seconds).toBe(50);
    // Without a total, the last full run's count stands in for it.
    expect(progressOf(run({ accounts_processed: 1000, previous_run }), 10_000).eta_seconds).toBe(14);
    const classifying = run({ phase: 'classifying', accounts_processed: 5000, accounts_total: 5000, previous_run, progress_marks: { reading_ended_at: new Date(50_000).toISOString() } });
    expect(progressOf(classifying, 53_000)).toMatchObject({ eta_seconds: 7, accounts_per_second: 100 });
    expect(progressOf({ ...classifying, status: 'paused' }, 53_000).eta_seconds).toBeNull();
    // The rate counts from the first page: 3 s of start-up before it do not slow the estimate.
    const started = run({ accounts_processed: 1000, accounts_total: 10_000, progress_marks: { first_page_at: new Date(3_000).toISOString(), first_page_accounts: 100 } });
    expect(progressOf(started, 12_000)).toMatchObject({ accounts_per_second: 100, eta_seconds: 90 });
  });

  it('has no ETA without a total, and 0 once done', () => {
    expect(progressOf(run({ accounts_processed: 10 }), 1000).eta_seconds).toBeNull();
    expect(progressOf(run({ phase: 'done', accounts_processed: 10, completed_at: new Date(2000) }), 9999).eta_seconds).toBe(0);
  });
});
