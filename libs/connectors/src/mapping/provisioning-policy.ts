/**
 * A connector's provisioning policy: which identities get an account in its target. An identity is
 * covered when its status is one of `statuses` and it matches `filter` (when there is one). Pure, like the
 * mapping: the provisioning queue asks it for every identity change, the reconciler for every identity,
 * the connector API's preview for one.
 *
 * A filter is a tree of conditions: `{ all: [...] }`, `{ any: [...] }`, `{ not: ... }` and leaves
 * `{ attribute, op, value }` over an identity path. No regular expressions (nothing a policy author can
 * make slow), and the tree's depth is bounded.
 */
import { z } from 'zod';
import { IDENTITY_PATH, MappableIdentity, readIdentityPath } from './mappable-identity';

/** The identity store's statuses (seed 002). */
export const POLICY_IDENTITY_STATUSES = ['active', 'inactive', 'suspended', 'deleted'] as const;
/** Without `statuses`, every identity but a deleted one is covered (inactive and suspended ones keep a disabled account). */
export const DEFAULT_POLICY_STATUSES = ['active', 'inactive', 'suspended'] as const;

export const POLICY_OPERATORS = ['eq', 'ne', 'in', 'not_in', 'present', 'absent', 'starts_with', 'ends_with', 'contains'] as const;
export type PolicyOperator = (typeof POLICY_OPERATORS)[number];
const WITHOUT_VALUE: readonly PolicyOperator[] = ['present', 'absent'];
const WITH_LIST: readonly PolicyOperator[] = ['in', 'not_in'];
const WITH_TEXT: readonly PolicyOperator[] = ['starts_with', 'ends_with'];

/** Nesting of all/any/not beyond this is refused (the tree is evaluated recursively). */
export const MAX_POLICY_DEPTH = 8;
const MAX_CONDITIONS = 100;

type Scalar = string | number | boolean | null;
export type PolicyCondition =
  | { all: PolicyCondition[] }
  | { any: PolicyCondition[] }
  | { not: PolicyCondition }
  | { attribute: string; op: PolicyOperator; value?: Scalar | Scalar[] };

const scalar = z.union([z.string().max(1000), z.number(), z.boolean(), z.null()]);

const leafSchema = z
  .object({
    attribute: z.string().regex(IDENTITY_PATH, 'must be an identity field (username, email, display_name, status, id, source_user_id) or attributes.<name>'),
    op: z.enum(POLICY_OPERATORS),
    value: z.union([scalar, z.array(scalar).max(1000)]).optional(),
  })
  .strict()
  .superRefine((leaf, ctx) => {
    if (WITHOUT_VALUE.includes(leaf.op)) {
      if (leaf.value !== undefined) ctx.addIssue({ code: 'custom', path: ['value'], message: `${leaf.op} takes no value` });
    } else if (WITH_LIST.includes(leaf.op)) {
      if (!Array.isArray(leaf.value)) ctx.addIssue({ code: 'custom', path: ['value'], message: `${leaf.op} needs a list of values` });
    } else if (WITH_TEXT.includes(leaf.op)) {
      if (typeof leaf.value !== 'string') ctx.addIssue({ code: 'custom', path: ['value'], message: `${leaf.op} needs a string value` });
    } else if (leaf.value === undefined || Array.isArray(leaf.value)) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: `${leaf.op} needs one value` });
    }
  });

const conditionSchema: z.ZodType<PolicyCondition> = z.lazy(() =>
  // The node's shape is chosen by its key, so a wrong leaf is reported at its field (a plain union would
  // only say that no alternative matched).
  z.unknown().transform((value, ctx) => {
    const result = nodeSchemaFor(value).safeParse(value);
    if (result.success) return result.data as PolicyCondition;
    for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path as PropertyKey[] });
    return z.NEVER;
  }),
) as unknown as z.ZodType<PolicyCondition>;

const allSchema = z.object({ all: z.array(z.lazy(() => conditionSchema)).min(1).max(MAX_CONDITIONS) }).strict();
const anySchema = z.object({ any: z.array(z.lazy(() => conditionSchema)).min(1).max(MAX_CONDITIONS) }).strict();
const notSchema = z.object({ not: z.lazy(() => conditionSchema) }).strict();

function nodeSchemaFor(value: unknown): z.ZodType {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    if ('all' in value) return allSchema;
    if ('any' in value) return anySchema;
    if ('not' in value) return notSchema;
  }
  return leafSchema;
}

function depthOf(value: unknown, depth = 0): number {
  if (depth > MAX_POLICY_DEPTH + 1 || value === null || typeof value !== 'object') return depth;
  const children = Array.isArray(value) ? value : Object.values(value as object);
  return children.reduce<number>((max, child) => Math.max(max, depthOf(child, Array.isArray(value) ? depth : depth + 1)), depth);
}

export const provisioningPolicySchema = z
  .object({
    statuses: z
      .array(z.enum(POLICY_IDENTITY_STATUSES))
      .min(1)
      .max(POLICY_IDENTITY_STATUSES.length)
      .default([...DEFAULT_POLICY_STATUSES]),
    // The depth is checked before the tree is parsed: a hostile nesting never reaches the recursion.
    filter: z
      .unknown()
      .refine((filter) => depthOf(filter) <= MAX_POLICY_DEPTH + 1, { message: `filter nests deeper than ${MAX_POLICY_DEPTH} levels` })
      .pipe(conditionSchema)
      .optional(),
  })
  .strict();
export type ProvisioningPolicy = z.infer<typeof provisioningPolicySchema>;

/** The policy of a connector that has none: every identity that is not deleted. */
export const DEFAULT_PROVISIONING_POLICY: ProvisioningPolicy = { statuses: [...DEFAULT_POLICY_STATUSES] };

export interface PolicyDecision {
  covered: boolean;
  /** Why, in words (shown by the preview and in operation logs). */
  reason: string;
}

const present = (value: unknown) => value !== undefined && value !== null && value !== '';

function equals(actual: unknown, expected: Scalar): boolean {
  if (Array.isArray(actual)) return actual.some((item) => item === expected);
  return actual === expected || (actual === undefined && expected === null);
}

function matches(condition: PolicyCondition, identity: MappableIdentity): boolean {
  if ('all' in condition) return condition.all.every((c) => matches(c, identity));
  if ('any' in condition) return condition.any.some((c) => matches(c, identity));
  if ('not' in condition) return !matches(condition.not, identity);
  const actual = readIdentityPath(identity, condition.attribute);
  const { value } = condition;
  switch (condition.op) {
    case 'eq':
      return equals(actual, value as Scalar);
    case 'ne':
      return !equals(actual, value as Scalar);
    case 'in':
      return (value as Scalar[]).some((v) => equals(actual, v));
    case 'not_in':
      return !(value as Scalar[]).some((v) => equals(actual, v));
    case 'present':
      return present(actual) && !(Array.isArray(actual) && actual.length === 0);
    case 'absent':
      return !present(actual) || (Array.isArray(actual) && actual.length === 0);
    case 'starts_with':
      return typeof actual === 'string' && actual.startsWith(value as string);
    case 'ends_with':
      return typeof actual === 'string' && actual.endsWith(value as string);
    case 'contains':
      return typeof actual === 'string' ? typeof value === 'string' && actual.includes(value) : equals(Array.isArray(actual) ? actual : [], value as Scalar);
    default: {
      const unknownOp: never = condition.op;
      throw new Error(`unknown policy operator ${String(unknownOp)}`);
    }
  }
}

/** Whether `policy` gives `identity` an account, and why. */
export function evaluatePolicy(policy: ProvisioningPolicy, identity: MappableIdentity): PolicyDecision {
  if (!(policy.statuses as readonly string[]).includes(identity.status)) {
    return { covered: false, reason: `status ${identity.status} is not one of the policy's statuses (${policy.statuses.join(', ')})` };
  }
  if (policy.filter && !matches(policy.filter, identity)) return { covered: false, reason: "the identity does not match the policy's filter" };
  return { covered: true, reason: policy.filter ? `status ${identity.status} and the filter match` : `status ${identity.status} is covered` };
}
