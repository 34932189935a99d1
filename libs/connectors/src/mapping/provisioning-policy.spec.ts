import type { MappableIdentity } from './mappable-identity';
import { evaluatePolicy, MAX_POLICY_DEPTH, provisioningPolicySchema } from './provisioning-policy';

const identity = (overrides: Partial<MappableIdentity> = {}): MappableIdentity => ({
  username: 'zoe',
  email: 'zoe@example.com',
  status: 'active',
  attributes: { department: 'Finance', groups: ['staff', 'audit'], contractor: false, country: 'PL' },
  ...overrides,
});

const policy = (input: unknown) => provisioningPolicySchema.parse(input);
const issues = (input: unknown) => {
  const result = provisioningPolicySchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((i) => i.path.join('.'));
};

describe('provisioning policy', () => {
  it('covers every identity but a deleted one by default', () => {
    const p = policy({});
    expect(evaluatePolicy(p, identity()).covered).toBe(true);
    expect(evaluatePolicy(p, identity({ status: 'suspended' })).covered).toBe(true);
    expect(evaluatePolicy(p, identity({ status: 'deleted' }))).toEqual({ covered: false, reason: expect.stringContaining('status deleted is not one of') });
  });

  it('filters on statuses and on attributes with all/any/not', () => {
    const p = policy({
      statuses: ['active'],
      filter: {
        all: [
          { attribute: 'attributes.department', op: 'in', value: ['Finance', 'Sales'] },
          { not: { attribute: 'attributes.contractor', op: 'eq', value: true } },
          { any: [{ attribute: 'attributes.groups', op: 'contains', value: 'audit' }, { attribute: 'email', op: 'ends_with', value: '@corp.example' }] },
        ],
      },
    });
    expect(evaluatePolicy(p, identity()).covered).toBe(true);
    expect(evaluatePolicy(p, identity({ status: 'inactive' })).covered).toBe(false);
    expect(evaluatePolicy(p, identity({ attributes: { department: 'IT', groups: ['audit'] } })).covered).toBe(false);
    expect(evaluatePolicy(p, identity({ attributes: { department: 'Sales', groups: [], contractor: true } })).covered).toBe(false);
    expect(evaluatePolicy(p, identity({ email: 'z@corp.example', attributes: { department: 'Sales' } })).covered).toBe(true);
  });

  it('present/absent, eq on a multi-valued attribute, ne of a missing one', () => {
    const covered = (filter: unknown, who = identity()) => evaluatePolicy(policy({ filter }), who).covered;
    expect(covered({ attribute: 'attributes.country', op: 'present' })).toBe(true);
    expect(covered({ attribute: 'attributes.phone', op: 'absent' })).toBe(true);
    expect(covered({ attribute: 'attributes.groups', op: 'eq', value: 'staff' })).toBe(true);
    expect(covered({ attribute: 'attributes.phone', op: 'ne', value: '123' })).toBe(true);
    expect(covered({ attribute: 'username', op: 'starts_with', value: 'zo' })).toBe(true);
    expect(covered({ attribute: 'attributes.country', op: 'not_in', value: ['PL', 'DE'] })).toBe(false);
  });

  it('refuses operators without their value, unknown fields and statuses, and deep nesting', () => {
    expect(issues({ filter: { attribute: 'username', op: 'in', value: 'zoe' } })).toEqual(['filter.value']);
    expect(issues({ filter: { attribute: 'username', op: 'present', value: 1 } })).toEqual(['filter.value']);
    expect(issues({ filter: { attribute: 'username', op: 'matches', value: '.*' } })).toEqual(['filter.op']);
    expect(issues({ statuses: ['gone'] })).toEqual(['statuses.0']);
    expect(issues({ statuses: [] })).toEqual(['statuses']);
    expect(issues({ filter: {}, extra: 1 })).toContain('');
    let deep: unknown = { attribute: 'username', op: 'present' };
    for (let i = 0; i < 10_000; i++) deep = { not: deep };
    expect(issues({ filter: deep })).toEqual(['filter']);
    let allowed: unknown = { attribute: 'username', op: 'present' };
    for (let i = 0; i < MAX_POLICY_DEPTH; i++) allowed = { not: allowed };
    expect(issues({ filter: allowed })).toEqual([]);
  });
});
