import { hasPermission } from './permissions';

describe('hasPermission', () => {
  it('grants exact, manage and * permissions only', () => {
    expect(hasPermission(new Set(['script:read']), 'script:read')).toBe(true);
    expect(hasPermission(new Set(['script:read']), 'script:write')).toBe(false);
    expect(hasPermission(new Set(['script:manage']), 'script:delete')).toBe(true);
    expect(hasPermission(new Set(['script:manage']), 'template:read')).toBe(false);
    expect(hasPermission(new Set(['*']), 'reconciliation:write')).toBe(true);
  });
});
