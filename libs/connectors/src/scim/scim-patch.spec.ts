import { scimPatch, ScimPatchOperation, ScimResource } from 'scim-patch';
import { diffAttributes } from '../connector';
import { ConnectorErrorCode } from '../connector-errors';
import { expectConnectorError } from '../testing';
import { PATCH_OP_SCHEMA, patchOperations, patchRequest } from './scim-patch';

const user = (attributes: Record<string, unknown>) =>
  ({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], id: 'u1', meta: { resourceType: 'User', created: new Date(0), lastModified: new Date(0) }, ...attributes }) as unknown as ScimResource;

describe('SCIM PATCH from an attribute delta', () => {
  it('sends only what changed: replace for set values, remove for removed and nulled ones', () => {
    const before = { userName: 'a', displayName: 'A', title: 'T', nickName: 'n', active: true };
    const after = { userName: 'a', displayName: 'B', title: null, active: false, emails: [{ value: 'a@x.test', primary: true }] };
    const delta = diffAttributes(before, after, ['nickName']);
    const operations = patchOperations(delta);
    expect(operations).toEqual(
      expect.arrayContaining([
        { op: 'replace', path: 'displayName', value: 'B' },
        { op: 'replace', path: 'active', value: false },
        { op: 'replace', path: 'emails', value: [{ value: 'a@x.test', primary: true }] },
        { op: 'remove', path: 'title' },
        { op: 'remove', path: 'nickName' },
      ]),
    );
    expect(operations).toHaveLength(5);
    expect(operations.some((o) => o.path === 'userName')).toBe(false);
  });

  it('applied by scim-patch, the operations turn the old resource into the new one', () => {
    const before = user({ userName: 'a', displayName: 'A', title: 'T', nickName: 'n', name: { givenName: 'G' } });
    const operations = patchOperations({ replace: { displayName: 'Zoë 山田', title: null, name: { givenName: 'H', familyName: 'F' }, profileUrl: 'https://x.test/a' }, remove: ['nickName'] });
    const patched = scimPatch(structuredClone(before), operations as ScimPatchOperation[]) as unknown as Record<string, unknown>;
    expect(patched).toMatchObject({ userName: 'a', displayName: 'Zoë 山田', name: { givenName: 'H', familyName: 'F' }, profileUrl: 'https://x.test/a' });
    expect(patched).not.toHaveProperty('title');
    expect(patched).not.toHaveProperty('nickName');
  });

  it('a removal wins over a replace of the same attribute', () => {
    expect(patchOperations({ replace: { title: 'x' }, remove: ['title'] })).toEqual([{ op: 'remove', path: 'title' }]);
  });

  it('wraps the operations in a PatchOp message', () => {
    expect(patchRequest({ replace: { active: true }, remove: [] })).toEqual({ schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'replace', path: 'active', value: true }] });
  });

  it('refuses an attribute name that would be path syntax', async () => {
    await expectConnectorError(async () => patchOperations({ replace: { 'emails[type eq "work"].value': 'x' }, remove: [] }), ConnectorErrorCode.InvalidAttribute);
    await expectConnectorError(async () => patchOperations({ replace: {}, remove: ['a b'] }), ConnectorErrorCode.InvalidAttribute);
  });
});
