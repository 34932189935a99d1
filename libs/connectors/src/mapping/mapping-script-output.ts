/**
 * What a connector's mapping script must answer: an object of attributes (the target's names, each an
 * attribute value: string, number, boolean, null, or arrays and objects of those), the account's final
 * attributes. Pure, so the provisioning queue, the connector API's preview and the reconciler judge an
 * answer the same way. Anything else is refused with why, never written to a target.
 */
import { z } from 'zod';
import type { Attributes } from '../connector';
import { attributeValueSchema, MAX_MAPPING_RULES } from './attribute-mapping';

/** At most this many attributes in an answer (a script is not a way around the mapping's bound). */
export const MAX_SCRIPTED_ATTRIBUTES = MAX_MAPPING_RULES;

const ATTRIBUTE_NAME = /^[A-Za-z][A-Za-z0-9_.:-]{0,199}$/;

const scriptedAttributesSchema = z
  .record(z.string(), attributeValueSchema)
  .refine((attributes) => Object.keys(attributes).length <= MAX_SCRIPTED_ATTRIBUTES, `more than ${MAX_SCRIPTED_ATTRIBUTES} attributes`);

export type ScriptedAttributes = { ok: true; attributes: Attributes } | { ok: false; reason: string };

/** Judges one answer of a mapping script: its attributes, or why they are not attributes. */
export function checkScriptedAttributes(output: unknown): ScriptedAttributes {
  if (output === null || output === undefined) return { ok: false, reason: 'it returned nothing (it must return an object of attributes)' };
  if (typeof output !== 'object' || Array.isArray(output)) return { ok: false, reason: `it returned ${Array.isArray(output) ? 'an array' : `a ${typeof output}`}, not an object of attributes` };
  const badName = Object.keys(output).find((name) => !ATTRIBUTE_NAME.test(name));
  if (badName !== undefined) return { ok: false, reason: `attribute ${badName.slice(0, 200)}: is not an attribute name (a letter, then letters, digits, _ . : -; at most 200)` };
  const parsed = scriptedAttributesSchema.safeParse(output);
  if (parsed.success) return { ok: true, attributes: parsed.data as Attributes };
  const issue = parsed.error.issues[0];
  const where = issue.path.length ? `attribute ${String(issue.path[0]).slice(0, 200)}` : 'the answer';
  return { ok: false, reason: `${where}: ${issue.message}` };
}

/** Judges the answer of a batch run: one object of attributes per identity, in order. */
export function checkScriptedBatch(output: unknown, expected: number): { ok: true; attributes: Attributes[] } | { ok: false; reason: string } {
  if (!Array.isArray(output)) return { ok: false, reason: 'a batch run must return an array (one object of attributes per identity, in order)' };
  if (output.length !== expected) return { ok: false, reason: `a batch run returned ${output.length} answers for ${expected} identities` };
  const attributes: Attributes[] = [];
  for (const [i, answer] of output.entries()) {
    const checked = checkScriptedAttributes(answer);
    if (!checked.ok) return { ok: false, reason: `answer ${i}: ${checked.reason}` };
    attributes.push(checked.attributes);
  }
  return { ok: true, attributes };
}
