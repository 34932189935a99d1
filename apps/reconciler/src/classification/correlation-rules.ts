import { z } from 'zod';
import { AttributeMapping, IDENTITY_PATH } from '@provisio/connectors';

/**
 * Correlation rules of a connector: who owns an account that no link names. Rules are tried in order;
 * the first rule that finds any identity without a link to this connector decides: one candidate makes
 * the account `unlinked` (to be linked to it), two or more a `collision`. Values compare trimmed and
 * case-insensitively.
 */
export const correlationRuleSchema = z
  .object({
    /** An identity field (`email`, `username` …) or `attributes.<name>`. */
    identity_attribute: z.string().regex(IDENTITY_PATH, 'must be an identity field (username, email, display_name, status, id, source_user_id) or attributes.<name>'),
    /** The account's attribute, by the target's own name (`mail`, `userName`, a column). */
    target_attribute: z.string().regex(/^[A-Za-z][A-Za-z0-9_.:-]{0,199}$/, 'must be an attribute name'),
  })
  .strict();
export type CorrelationRule = z.infer<typeof correlationRuleSchema>;
export const correlationRulesSchema = z.array(correlationRuleSchema).max(10);

/** Without rules of its own, a connector correlates on what its mapping writes from `email`, then from `username`. */
export function defaultCorrelationRules(mapping: AttributeMapping): CorrelationRule[] {
  const rules: CorrelationRule[] = [];
  for (const field of ['email', 'username'] as const) {
    const rule = mapping.find((r) => r.from === field);
    if (rule) rules.push({ identity_attribute: field, target_attribute: rule.target });
  }
  return rules;
}

const COLUMNS: Record<string, string> = { id: 'i.id::text', username: 'i.username', email: 'i.email', display_name: 'i.display_name', status: 'i.status', source_user_id: 'i.source_user_id' };

/** The SQL of the identity side of a rule: a column (from a fixed list) or `i.attributes #>> $n` (the path bound). */
export function identityExpression(path: string, param: number): { sql: string; value?: string[] } {
  if (COLUMNS[path]) return { sql: COLUMNS[path] };
  return { sql: `i.attributes #>> $${param}::text[]`, value: path.split('.').slice(1) };
}
