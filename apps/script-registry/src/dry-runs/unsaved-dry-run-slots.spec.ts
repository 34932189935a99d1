import { RateLimitedError } from '@provisio/platform';
import type { AppConfig } from '../config';
import { UnsavedDryRunSlots } from './unsaved-dry-run-slots';

describe('UnsavedDryRunSlots', () => {
  const slots = () => new UnsavedDryRunSlots({ REGISTRY_UNSAVED_DRY_RUNS: 3, REGISTRY_UNSAVED_DRY_RUNS_PER_TENANT: 2 } as AppConfig);
  const hold = () => {
    let release!: () => void;
    return { done: new Promise<void>((resolve) => (release = resolve)), release: () => release() };
  };

  it('refuses beyond the per-tenant cap, then beyond the process cap, and frees slots when runs end (also when they fail)', async () => {
    const s = slots();
    const a = hold();
    const runs = [s.run('a', () => a.done), s.run('a', () => a.done)];
    await expect(s.run('a', async () => 1)).rejects.toThrow(/for this tenant \(2\)/);
    const b = s.run('b', () => a.done);
    await expect(s.run('c', async () => 1)).rejects.toMatchObject({ constructor: RateLimitedError, retryAfterSeconds: 1 });
    a.release();
    await Promise.all([...runs, b]);
    await expect(s.run('a', async () => 'again')).resolves.toBe('again');
    await expect(s.run('a', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(Promise.all([s.run('a', async () => 1), s.run('a', async () => 2)])).resolves.toEqual([1, 2]);
  });
});
