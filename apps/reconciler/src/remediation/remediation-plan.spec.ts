import { identityFromAccount, identityPathOf, planRemediation, RemediationRefused } from './remediation-plan';

const id = '6f1b8c2e-8a59-4b8e-9a61-0f7e1f3e7a11';
const other = '0b6f1f2e-2f43-4c33-8a6f-0f1d2e3c4b5a';
const of = (discrepancy_type: string, fields: { identity_id?: string | null; external_uid?: string | null; attribute_name?: string | null } = {}) =>
  ({ discrepancy_type, identity_id: null, external_uid: null, attribute_name: null, ...fields }) as Parameters<typeof planRemediation>[0];
const refusal = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(RemediationRefused);
    return (error as RemediationRefused).field;
  }
  throw new Error('not refused');
};

describe('planRemediation', () => {
  it('gives each type its default action and direction', () => {
    expect(planRemediation(of('missing', { identity_id: id }))).toEqual({ action: 'create', direction: 'xavyo_to_target' });
    expect(planRemediation(of('orphan', { external_uid: 'o1' }))).toEqual({ action: 'delete', direction: 'xavyo_to_target' });
    expect(planRemediation(of('mismatch', { identity_id: id, external_uid: 'a1', attribute_name: 'mail' }))).toEqual({ action: 'update', direction: 'xavyo_to_target' });
    expect(planRemediation(of('unlinked', { identity_id: id, external_uid: 'u1' }))).toEqual({ action: 'link', direction: 'target_to_xavyo', identity_id: id });
    expect(planRemediation(of('deleted', { identity_id: id, external_uid: 'd1' }))).toEqual({ action: 'inactivate_identity', direction: 'target_to_xavyo' });
    expect(refusal(() => planRemediation(of('collision', { external_uid: 'c1' })))).toBe('action');
  });

  it('takes the caller’s action in its natural direction, and refuses what does not fit', () => {
    expect(planRemediation(of('collision', { external_uid: 'c1' }), { action: 'link', identity_id: other })).toEqual({ action: 'link', direction: 'target_to_xavyo', identity_id: other });
    expect(planRemediation(of('orphan', { external_uid: 'o1' }), { action: 'create', direction: 'target_to_xavyo' })).toEqual({ action: 'create', direction: 'target_to_xavyo' });
    expect(planRemediation(of('deleted', { identity_id: id, external_uid: 'd1' }), { action: 'unlink' })).toEqual({ action: 'unlink', direction: 'target_to_xavyo' });
    expect(refusal(() => planRemediation(of('missing', { identity_id: id }), { action: 'link', direction: 'xavyo_to_target' }))).toBe('direction');
    expect(refusal(() => planRemediation(of('orphan', { external_uid: 'o1' }), { action: 'create' }))).toBe('action');
    expect(refusal(() => planRemediation(of('missing', { identity_id: id }), { action: 'update', direction: 'target_to_xavyo' }))).toBe('action');
    expect(refusal(() => planRemediation(of('orphan', { external_uid: 'o1' }), { action: 'link' }))).toBe('identity_id');
    expect(refusal(() => planRemediation(of('orphan', { external_uid: 'o1' }), { action: 'delete', identity_id: id }))).toBe('identity_id');
  });
});

describe('identity from an account', () => {
  const mapping = [
    { target: 'userName', from: 'username', transforms: [], required: true },
    { target: 'mail', from: 'email', transforms: ['lower' as const], required: false },
    { target: 'cn', from: 'display_name', transforms: [], required: false },
    { target: 'dept', from: 'attributes.org.department', transforms: [], required: false },
    { target: 'kind', value: 'person', transforms: [], required: false },
  ];

  it('writes back only rules with a plain from', () => {
    expect(identityPathOf(mapping, 'userName')).toBe('username');
    expect(identityPathOf(mapping, 'mail')).toBeNull();
    expect(identityPathOf(mapping, 'kind')).toBeNull();
    expect(identityPathOf(mapping, 'dept')).toBe('attributes.org.department');
    expect(identityPathOf(mapping, 'nope')).toBeNull();
  });

  it('builds the identity from the invertible rules, the uid as username by default', () => {
    expect(identityFromAccount(mapping, 'uid-7', { cn: 'Zoë', dept: 'Audit', mail: 'Z@x.test', kind: 'person' })).toEqual({ username: 'uid-7', email: null, display_name: 'Zoë', attributes: { org: { department: 'Audit' } } });
    expect(identityFromAccount(mapping, 'uid-7', { userName: 'zoe' }).username).toBe('zoe');
  });
});
