import { MAX_IDENTITY_ATTRIBUTES_CHARS, userLifecycleEventSchema, userStateEventSchema } from './user-events';

describe('user event payloads', () => {
  it('accepts a state with extra top-level attributes and names the wrong field otherwise', () => {
    expect(userStateEventSchema.safeParse({ user_id: 'u-1', first_name: 'Zoë', version: 3 }).success).toBe(true);
    const noUser = userStateEventSchema.safeParse({ username: 'zoe' });
    expect(noUser.success ? [] : noUser.error.issues.map((i) => i.path.join('.'))).toEqual(['user_id']);
    const badStatus = userStateEventSchema.safeParse({ user_id: 'u-1', status: 'deleted' });
    expect(badStatus.success ? [] : badStatus.error.issues.map((i) => i.path.join('.'))).toEqual(['status']);
  });

  it('refuses attributes longer than the limit, counting extra top-level fields', () => {
    const big = 'x'.repeat(MAX_IDENTITY_ATTRIBUTES_CHARS);
    const result = userStateEventSchema.safeParse({ user_id: 'u-1', note: big });
    expect(result.success ? [] : result.error.issues.map((i) => i.path.join('.'))).toEqual(['attributes']);
    expect(userStateEventSchema.safeParse({ user_id: 'u-1', attributes: { note: big.slice(0, 1000) } }).success).toBe(true);
  });

  it('lifecycle events need only the user', () => {
    expect(userLifecycleEventSchema.safeParse({ user_id: 'u-1' }).success).toBe(true);
    expect(userLifecycleEventSchema.safeParse({ user_id: '' }).success).toBe(false);
    expect(userLifecycleEventSchema.safeParse({ user_id: 'u', version: -1 }).success).toBe(false);
  });
});
