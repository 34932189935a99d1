/**
 * A connector's declarative attribute mapping: how an identity becomes the attributes of its account in
 * the target (the target's own names: SCIM `userName`, LDAP `mail`, a SQL column). Pure: the provisioning
 * queue computes an operation's attributes with it, the reconciler the attributes it expects to find, and
 * the connector API's preview what an identity would get; none of them writes anything through it.
 *
 * A rule takes exactly one source — `from` (an identity path), `value` (a constant), `template`
 * (`{{path}}` placeholders in text) or `concat` (paths joined by `separator`) — then applies its
 * `transforms` in order (`lower`, `upper`, `trim`) and falls back to `default` when the result is empty
 * (absent, null or ""). A `required` rule whose result stays empty makes the mapping incomplete.
 */
import { z } from 'zod';
import type { AttributeValue, Attributes } from '../connector';
import { IDENTITY_PATH, MappableIdentity, readIdentityPath } from './mappable-identity';

export const MAPPING_TRANSFORMS = ['lower', 'upper', 'trim'] as const;
export type MappingTransform = (typeof MAPPING_TRANSFORMS)[number];

/** Rules per connector; a mapping with more is a configuration mistake. */
export const MAX_MAPPING_RULES = 200;
const MAX_TEMPLATE_LENGTH = 1000;
const PLACEHOLDER = /\{\{\s*([^{}\s]+)\s*\}\}/g;

const identityPath = z.string().regex(IDENTITY_PATH, 'must be an identity field (username, email, display_name, status, id, source_user_id) or attributes.<name>');

export const attributeValueSchema: z.ZodType<AttributeValue> = z.lazy(() =>
  z.union([z.string().max(10_000), z.number(), z.boolean(), z.null(), z.array(attributeValueSchema).max(100), z.record(z.string().max(200), attributeValueSchema)]),
);

const SOURCES = ['from', 'value', 'template', 'concat'] as const;

export const mappingRuleSchema = z
  .object({
    /** The target's attribute name: letters, digits and `_ . : -` (SCIM paths like `name.givenName`, URN-qualified names). */
    target: z.string().regex(/^[A-Za-z][A-Za-z0-9_.:-]{0,199}$/, 'must be an attribute name (a letter, then letters, digits, _ . : -; at most 200)'),
    from: identityPath.optional(),
    value: attributeValueSchema.optional(),
    template: z
      .string()
      .min(1)
      .max(MAX_TEMPLATE_LENGTH)
      .superRefine((template, ctx) => {
        for (const [, path] of template.matchAll(PLACEHOLDER)) {
          if (!IDENTITY_PATH.test(path)) ctx.addIssue({ code: 'custom', message: `placeholder {{${path}}} is not an identity field or attributes.<name>` });
        }
      })
      .optional(),
    concat: z.array(identityPath).min(1).max(20).optional(),
    /** Between the parts of `concat` (empty parts are left out). */
    separator: z.string().max(20).optional(),
    transforms: z.array(z.enum(MAPPING_TRANSFORMS)).max(10).default([]),
    default: attributeValueSchema.optional(),
    required: z.boolean().default(false),
  })
  .strict()
  .superRefine((rule, ctx) => {
    const given = SOURCES.filter((source) => rule[source] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({ code: 'custom', path: [], message: `a rule takes exactly one of ${SOURCES.join(', ')} (this one has ${given.length ? given.join(', ') : 'none'})` });
    }
    if (rule.separator !== undefined && rule.concat === undefined) ctx.addIssue({ code: 'custom', path: ['separator'], message: 'separator applies only to concat' });
  });
export type MappingRule = z.infer<typeof mappingRuleSchema>;

export const attributeMappingSchema = z
  .array(mappingRuleSchema)
  .max(MAX_MAPPING_RULES)
  .superRefine((rules, ctx) => {
    const seen = new Set<string>();
    rules.forEach((rule, i) => {
      if (seen.has(rule.target)) ctx.addIssue({ code: 'custom', path: [i, 'target'], message: `target ${rule.target} is mapped twice` });
      seen.add(rule.target);
    });
  });
export type AttributeMapping = z.infer<typeof attributeMappingSchema>;

export interface MappingResult {
  /** The account's attributes: every rule's target whose result is not empty. */
  attributes: Attributes;
  /** Targets of required rules whose result is empty: the account cannot be provisioned as it is. */
  missing: string[];
}

const isEmpty = (value: unknown) => value === undefined || value === null || value === '';

/** Values from an identity are JSON (jsonb): anything else (a function, undefined inside) cannot occur. */
const asAttributeValue = (value: unknown): AttributeValue => value as AttributeValue;

function text(value: unknown): string {
  if (isEmpty(value)) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function transform(value: AttributeValue, transforms: readonly MappingTransform[]): AttributeValue {
  if (Array.isArray(value)) return value.map((item) => transform(item, transforms));
  if (typeof value !== 'string') return value;
  return transforms.reduce((s, t) => (t === 'lower' ? s.toLowerCase() : t === 'upper' ? s.toUpperCase() : s.trim()), value);
}

function sourceValue(rule: MappingRule, identity: MappableIdentity): AttributeValue | undefined {
  if (rule.value !== undefined) return rule.value;
  if (rule.from !== undefined) {
    const value = readIdentityPath(identity, rule.from);
    return value === undefined ? undefined : asAttributeValue(value);
  }
  if (rule.template !== undefined) return rule.template.replace(PLACEHOLDER, (_match, path: string) => text(readIdentityPath(identity, path)));
  const parts = (rule.concat ?? []).map((path) => text(readIdentityPath(identity, path))).filter((part) => part !== '');
  return parts.join(rule.separator ?? ' ');
}

/** The attributes `identity` gets under `mapping` (rules in order; each target once). */
export function applyMapping(mapping: AttributeMapping, identity: MappableIdentity): MappingResult {
  const attributes: Attributes = {};
  const missing: string[] = [];
  for (const rule of mapping) {
    let value = sourceValue(rule, identity);
    if (!isEmpty(value)) value = transform(value!, rule.transforms);
    if (isEmpty(value) && rule.default !== undefined) value = rule.default;
    if (isEmpty(value)) {
      if (rule.required) missing.push(rule.target);
      continue;
    }
    attributes[rule.target] = value!;
  }
  return { attributes, missing };
}
