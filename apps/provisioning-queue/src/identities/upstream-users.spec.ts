import { mergeAttributes } from './identities.service';
import { isStale } from './upstream-users.service';

describe('the order of upstream events', () => {
  const at = (iso: string) => new Date(iso);

  it('decides by version when both sides have one, whatever the times say', () => {
    const identity = { source_version: 5, source_event_time: at('2026-12-03T10:00:00Z') };
    expect(isStale(identity, { version: 4, time: '2026-12-03T11:00:00Z' })).toBe(true);
    expect(isStale(identity, { version: 5 })).toBe(true);
    expect(isStale(identity, { version: 6, time: '2026-12-03T09:00:00Z' })).toBe(false);
  });

  it('decides by time otherwise; an equal time is applied', () => {
    const identity = { source_version: null, source_event_time: at('2026-12-03T10:00:00Z') };
    expect(isStale(identity, { time: '2026-12-03T09:59:59.999Z' })).toBe(true);
    expect(isStale(identity, { time: '2026-12-03T10:00:00Z' })).toBe(false);
    expect(isStale(identity, { time: '2026-12-03T11:00:00+01:00' })).toBe(false);
    expect(isStale({ source_version: 3, source_event_time: at('2026-12-03T10:00:00Z') }, { time: '2026-12-03T09:00:00Z' })).toBe(true);
  });

  it('applies events without version or time in arrival order', () => {
    expect(isStale({ source_version: 3, source_event_time: null }, {})).toBe(false);
    expect(isStale({ source_version: null, source_event_time: null }, { version: 1, time: '2026-12-03T10:00:00Z' })).toBe(false);
  });

  it('merges attributes key by key, null removing a key', () => {
    expect(mergeAttributes({ a: 1, b: 2, c: { d: 1 } }, { b: null, c: { e: 2 }, f: 'x' })).toEqual({ a: 1, c: { e: 2 }, f: 'x' });
  });
});
