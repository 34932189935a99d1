import type { AttributeMapping } from '@provisio/connectors';
import type { RemediationAction, RemediationDirection } from '@provisio/persistence';
import { ValidationError } from '@provisio/platform';
import type { DiscrepancyType } from '../classification/classifier';
import { DEFAULT_ACTIONS } from '../discrepancies/default-actions';

/** The fields of a discrepancy a plan looks at. */
export interface PlannedDiscrepancy {
  discrepancy_type: DiscrepancyType;
  identity_id: string | null;
  external_uid: string | null;
  attribute_name: string | null;
}

export interface RemediationChoice {
  action: RemediationAction;
  direction: RemediationDirection;
  /** `link` of a collision or an orphan: the identity the operator picked. */
  identity_id?: string;
}

/** A remediation that cannot apply to this discrepancy: the field that is wrong and why (a 400). */
export class RemediationRefused extends ValidationError {}

/** The direction an action takes when the caller names the action only. */
export const NATURAL_DIRECTION: Record<RemediationAction, RemediationDirection> = {
  create: 'xavyo_to_target',
  update: 'xavyo_to_target',
  delete: 'xavyo_to_target',
  link: 'target_to_xavyo',
  unlink: 'target_to_xavyo',
  inactivate_identity: 'target_to_xavyo',
};

/**
 * Which action a discrepancy gets: the caller's, else its type's default (DEFAULT_ACTIONS); checked
 * against what the discrepancy holds. The actions per direction (docs/reconciliation.md, "Remediation"):
 *
 *   xavyo_to_target (an operation of the provisioning queue)
 *     create   the identity's account (identity_id; a stale link of a `deleted` is dropped first)
 *     update   the account's mapped attributes (identity_id and external_uid)
 *     delete   the account (external_uid)
 *   target_to_xavyo (the identity store)
 *     create   an identity from the account, linked to it (external_uid, no identity)
 *     update   the identity's attribute from the account's value (a `mismatch` whose rule is a plain `from`)
 *     link     the account to the identity (identity_id: the candidate, or the caller's pick)
 *     unlink   the account's link (external_uid)
 *     inactivate_identity   the identity's status → inactive (identity_id)
 */
export function planRemediation(discrepancy: PlannedDiscrepancy, asked: Partial<RemediationChoice> = {}): RemediationChoice {
  const fallback = DEFAULT_ACTIONS[discrepancy.discrepancy_type];
  const action = (asked.action ?? fallback?.action) as RemediationAction | undefined;
  if (!action) throw new RemediationRefused(`a ${discrepancy.discrepancy_type} has no default action: name one (link with identity_id picks the owner)`, 'action');
  const direction = asked.direction ?? (asked.action === undefined && fallback ? (fallback.direction as RemediationDirection) : NATURAL_DIRECTION[action]);
  const identityId = asked.identity_id ?? discrepancy.identity_id ?? undefined;
  const need = (ok: unknown, what: string, field: string) => {
    if (!ok) throw new RemediationRefused(`${action} (${direction}) of a ${discrepancy.discrepancy_type} needs ${what}`, field);
  };
  if (asked.identity_id !== undefined && action !== 'link') throw new RemediationRefused('identity_id applies only to link', 'identity_id');
  if (direction === 'xavyo_to_target') {
    if (action === 'create') need(discrepancy.identity_id, 'an identity (identity_id)', 'action');
    else if (action === 'update') need(discrepancy.identity_id && discrepancy.external_uid, 'a linked account of an identity', 'action');
    else if (action === 'delete') need(discrepancy.external_uid, 'an account (external_uid)', 'action');
    else throw new RemediationRefused(`${action} changes the identity store: its direction is target_to_xavyo`, 'direction');
  } else {
    if (action === 'create') need(discrepancy.external_uid && !discrepancy.identity_id, 'an account without an identity (an orphan)', 'action');
    else if (action === 'update') need(discrepancy.discrepancy_type === 'mismatch' && discrepancy.identity_id, 'a mismatch of an identity', 'action');
    else if (action === 'link') need(discrepancy.external_uid && identityId, 'an account and an identity (identity_id)', 'identity_id');
    else if (action === 'unlink') need(discrepancy.external_uid, 'an account (external_uid)', 'action');
    else if (action === 'inactivate_identity') need(discrepancy.identity_id, 'an identity (identity_id)', 'action');
    else throw new RemediationRefused(`${action} changes the target: its direction is xavyo_to_target`, 'direction');
  }
  return { action, direction, ...(action === 'link' && identityId ? { identity_id: identityId } : {}) };
}

/**
 * Where an account attribute goes back into an identity (target_to_xavyo): the identity path of the
 * rule that maps it, when the rule is a plain `from` without transforms (anything else cannot be
 * inverted). `username`, `email`, `display_name` and `attributes.<name>…` can be written.
 */
export function identityPathOf(mapping: AttributeMapping, attribute: string): string | null {
  const rule = mapping.find((r) => r.target === attribute);
  if (!rule || rule.from === undefined || (rule.transforms ?? []).length) return null;
  return ['username', 'email', 'display_name'].includes(rule.from) || rule.from.startsWith('attributes.') ? rule.from : null;
}

/** The identity fields an account gives (target_to_xavyo create), through the invertible rules of the mapping. */
export function identityFromAccount(mapping: AttributeMapping, externalUid: string, attributes: Record<string, unknown>) {
  const identity: { username: string; email: string | null; display_name: string | null; attributes: Record<string, unknown> } = { username: externalUid, email: null, display_name: null, attributes: {} };
  for (const rule of mapping) {
    const path = identityPathOf(mapping, rule.target);
    const value = attributes[rule.target];
    if (!path || value === undefined || value === null || value === '') continue;
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    if (path === 'username') identity.username = text;
    else if (path === 'email') identity.email = text;
    else if (path === 'display_name') identity.display_name = text;
    else setPath(identity.attributes, path.slice('attributes.'.length).split('.'), value);
  }
  return identity;
}

/** `target[a][b]… = value`, creating objects on the way (a non-object on the way is replaced). */
export function setPath(target: Record<string, unknown>, keys: string[], value: unknown): void {
  let node = target;
  keys.slice(0, -1).forEach((key) => {
    const next = node[key];
    node = node[key] = next && typeof next === 'object' && !Array.isArray(next) ? (next as Record<string, unknown>) : {};
  });
  node[keys[keys.length - 1]] = value;
}
