/**
 * AttributeDelta → a SCIM PatchOp (RFC 7644 §3.5.2): one `replace` per attribute set (replace of an absent
 * attribute acts as add, §3.5.2.3), one `remove` per attribute removed. Only what changed is sent.
 */
import { AttributeDelta, AttributeValue } from '../connector';
import { assertAttributePath } from './scim-filter';

export const PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

export type ScimPatchOperation = { op: 'replace'; path: string; value: AttributeValue } | { op: 'remove'; path: string };

export interface ScimPatchRequest {
  schemas: [typeof PATCH_OP_SCHEMA];
  Operations: ScimPatchOperation[];
}

export function patchOperations(delta: AttributeDelta): ScimPatchOperation[] {
  const operations: ScimPatchOperation[] = [];
  const removed = new Set(delta.remove);
  for (const [name, value] of Object.entries(delta.replace)) {
    if (removed.has(name)) continue;
    assertAttributePath(name);
    // A null value is the attribute's absence (RFC 7643 §2.5): removing it says so to every server.
    operations.push(value === null ? { op: 'remove', path: name } : { op: 'replace', path: name, value });
  }
  for (const name of removed) operations.push({ op: 'remove', path: assertAttributePath(name) });
  return operations;
}

export function patchRequest(delta: AttributeDelta): ScimPatchRequest {
  return { schemas: [PATCH_OP_SCHEMA], Operations: patchOperations(delta) };
}
