import { hasPermission, missingPermission } from './permissions';

describe('hasPermission', () => {
  it('grants exact, manage and * permissions only', () => {
    expect(hasPermission(new Set(['script:read']), 'script:read')).toBe(true);
    expect(hasPermission(new Set(['script:read']), 'script:write')).toBe(false);
    expect(hasPermission(new Set(['script:manage']), 'script:delete')).toBe(true);
    expect(hasPermission(new Set(['script:manage']), 'template:read')).toBe(false);
    expect(hasPermission(new Set(['*']), 'reconciliation:write')).toBe(true);
  });
});

describe('missingPermission', () => {
  it("names the first required permission not granted, honouring manage and *", () => {
    expect(missingPermission(new Set(['hr:read']), ['hr:read', 'payroll:read'])).toBe('payroll:read');
    expect(missingPermission(new Set(['payroll:manage', 'hr:read']), ['hr:read', 'payroll:read'])).toBeUndefined();
    expect(missingPermission(new Set(['*']), ['anything:at-all'])).toBeUndefined();
    expect(missingPermission(new Set(), [])).toBeUndefined();
    expect(missingPermission(new Set(), null)).toBeUndefined();
  });
});
