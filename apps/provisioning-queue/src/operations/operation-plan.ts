/**
 * What an identity change asks of one connector: pure, so the rules read (and are tested) apart from
 * the database. An account exists in a connector's target while its policy covers the identity:
 *
 *  - not covered before (or no identity), covered after: `create` with the mapped attributes;
 *  - covered before and after: `update` with the delta of the mapped attributes (attributes that no
 *    longer map are removed), and `enabled` when the identity's activity changed (active ↔ inactive /
 *    suspended): an enable or disable is an update whose payload says so, and runs the `enable` or
 *    `disable` hook bindings;
 *  - covered before, not after (a `user.deleted`, a status or attribute the policy excludes): `delete`;
 *  - nothing changes for the target: no operation. With a mapping script (`scripted`), any change of a
 *    covered identity is an update: the script may read what the rules do not, so only its run (when
 *    the operation runs, MappingScriptRunner) says what changes.
 */
import { AttributeDelta, AttributeMapping, Attributes, applyMapping, diffAttributes, evaluatePolicy, isEmptyDelta, MappableIdentity, ProvisioningPolicy } from '@provisio/connectors';
import type { OperationType } from '@provisio/persistence';

/** The hook bindings' operation types: the operation's type, or enable/disable for an update that only switches activity. */
export type HookOperation = 'create' | 'update' | 'delete' | 'enable' | 'disable';

/**
 * Which script versions an operation's hooks run: `original`, each binding at the version it last ran at
 * on this operation (pinned; the live one if it never ran), or `latest`, the live ones. Set by a retry.
 */
export type HookVersionsMode = 'original' | 'latest';
export const HOOK_VERSIONS_MODES: readonly HookVersionsMode[] = ['original', 'latest'];

/** `provisioning_operations.payload`: everything the worker needs to make the call, fixed at creation (but `hook_versions`, set by a retry). */
export interface OperationPayload {
  /** Create: every mapped attribute; update: the mapped attributes after the change (for hooks and the link's hash). */
  attributes?: Attributes;
  /** Update: what changes in the target. */
  delta?: AttributeDelta;
  /** The account's desired activity: set on a create of an inactive identity, and on an update that enables or disables. */
  enabled?: boolean;
  hook_operation: HookOperation;
  /** The connector's mapping script: it runs when the operation runs and its answer replaces the mapped attributes. */
  mapping_script_id?: string;
  /** Targets of required mapping rules that came out empty: the operation fails permanently rather than write a partial account. */
  missing?: string[];
  /** Absent: `original`. A retry that asked for the hooks' live versions sets `latest`. */
  hook_versions?: HookVersionsMode;
  /** What caused it (an identity change's cause, or an operator). */
  cause?: Record<string, unknown>;
}

export interface PlannedOperation {
  operation_type: OperationType;
  payload: OperationPayload;
}

export interface ConnectorRules {
  mapping: AttributeMapping;
  policy: ProvisioningPolicy;
  /** The connector has a mapping script. */
  scripted?: boolean;
}

const isActive = (identity: MappableIdentity) => identity.status === 'active';

export function planOperation(rules: ConnectorRules, before: MappableIdentity | null, after: MappableIdentity | null): PlannedOperation | null {
  const coveredBefore = before !== null && evaluatePolicy(rules.policy, before).covered;
  const coveredAfter = after !== null && evaluatePolicy(rules.policy, after).covered;
  if (!coveredBefore && !coveredAfter) return null;
  if (!coveredAfter) return { operation_type: 'delete', payload: { hook_operation: 'delete' } };
  const mapped = applyMapping(rules.mapping, after!);
  const missing = mapped.missing.length ? { missing: mapped.missing } : {};
  if (!coveredBefore) {
    return { operation_type: 'create', payload: { attributes: mapped.attributes, hook_operation: 'create', ...(isActive(after!) ? {} : { enabled: false }), ...missing } };
  }
  const previous = applyMapping(rules.mapping, before!).attributes;
  const delta = diffAttributes(previous, mapped.attributes, Object.keys(previous));
  const activityChanged = isActive(before!) !== isActive(after!);
  if (isEmptyDelta(delta) && !activityChanged && !(rules.scripted && identityChanged(before!, after!))) return null;
  const hookOperation: HookOperation = activityChanged && isEmptyDelta(delta) ? (isActive(after!) ? 'enable' : 'disable') : 'update';
  return {
    operation_type: 'update',
    payload: { attributes: mapped.attributes, delta, hook_operation: hookOperation, ...(activityChanged ? { enabled: isActive(after!) } : {}), ...missing },
  };
}

function identityChanged(before: MappableIdentity, after: MappableIdentity): boolean {
  const view = (i: MappableIdentity) => JSON.stringify([i.username, i.email ?? null, i.display_name ?? null, i.status, i.source_user_id ?? null, i.attributes]);
  return view(before) !== view(after);
}

/** The attribute names an operation touches (what two operations on one account conflict over). */
export function touchedAttributes(type: OperationType, payload: OperationPayload): string[] {
  if (type === 'update') return [...Object.keys(payload.delta?.replace ?? {}), ...(payload.delta?.remove ?? []), ...(payload.enabled === undefined ? [] : ['(enabled)'])];
  return Object.keys(payload.attributes ?? {});
}
