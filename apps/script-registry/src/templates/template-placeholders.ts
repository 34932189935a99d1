/**
 * Placeholders of script templates: `{{name}}` in `template_body`, described by `placeholder_annotations`.
 *
 * Instantiating a template replaces each `{{name}}` by the JavaScript LITERAL of its value
 * (`JSON.stringify`: a quoted, escaped string, a number, `true`/`false`, `null`, an object or array
 * literal). A value therefore never becomes code, whatever it contains; a template puts its
 * placeholders where an expression goes: `const DOMAIN = {{mail_domain}};`.
 *
 * Pure functions: the service turns `PlaceholderProblem`s into 400s naming the field.
 */

export const PLACEHOLDER_TYPES = ['string', 'number', 'integer', 'boolean', 'json'] as const;
export type PlaceholderType = (typeof PLACEHOLDER_TYPES)[number];

export interface PlaceholderAnnotation {
  name: string;
  type: PlaceholderType;
  description: string | null;
  /** A required placeholder needs a value at instantiation unless it has a `default`. */
  required: boolean;
  /** Absent when there is none (`null` is a legitimate default of a `json` placeholder). */
  default?: unknown;
}

export const PLACEHOLDER_LIMITS = { annotations: 50, name: 64, description: 1000, value_bytes: 16_384 } as const;

/** `{{ name }}`: letters, digits and `_`, not starting with a digit; blanks inside the braces allowed. */
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ANNOTATION_KEYS = new Set(['name', 'type', 'description', 'required', 'default']);

/** A problem with what the caller sent; `field` is the request field to name in the 400. */
export class PlaceholderProblem extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = 'PlaceholderProblem';
  }
}

/** The distinct placeholder names of a body, in order of first appearance. */
export function placeholdersIn(body: string): string[] {
  return [...new Set([...body.matchAll(PLACEHOLDER)].map((m) => m[1]))];
}

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Why `value` is not of `type`, or null when it is. */
export function typeProblem(type: PlaceholderType, value: unknown): string | null {
  switch (type) {
    case 'string':
      return typeof value === 'string' ? null : 'must be a string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? null : 'must be a finite number';
    case 'integer':
      return Number.isSafeInteger(value) ? null : 'must be an integer';
    case 'boolean':
      return typeof value === 'boolean' ? null : 'must be true or false';
    case 'json':
      return value === undefined ? 'must be a JSON value' : null;
  }
}

const FIELD = 'placeholder_annotations';

/**
 * Reads `placeholder_annotations` as given: a list of annotations, an object keyed by placeholder name
 * (`{ "mail_domain": { "type": "string", ... } }`), or either as a JSON string (seed 000 types the field
 * as a string). Returns the list form, which is what is stored.
 */
export function parseAnnotations(input: unknown): PlaceholderAnnotation[] {
  let value = input;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      throw new PlaceholderProblem(`${FIELD} must be a JSON array or object (as JSON or a JSON string)`, FIELD);
    }
  }
  let entries: unknown[];
  if (Array.isArray(value)) entries = value;
  else if (isPlainObject(value)) {
    entries = Object.entries(value).map(([name, annotation]) => {
      if (!isPlainObject(annotation)) throw new PlaceholderProblem(`${FIELD}.${name} must be an object describing the placeholder`, FIELD);
      if (annotation.name !== undefined && annotation.name !== name) throw new PlaceholderProblem(`${FIELD}.${name} has the name "${String(annotation.name)}"; the key is its name`, FIELD);
      return { ...annotation, name };
    });
  } else throw new PlaceholderProblem(`${FIELD} must be a JSON array or object`, FIELD);
  if (entries.length > PLACEHOLDER_LIMITS.annotations) throw new PlaceholderProblem(`${FIELD} describes more than ${PLACEHOLDER_LIMITS.annotations} placeholders`, FIELD);

  const seen = new Set<string>();
  return entries.map((entry, index) => {
    if (!isPlainObject(entry)) throw new PlaceholderProblem(`${FIELD}[${index}] must be an object`, FIELD);
    const { name, type = 'string', description = null, default: fallback } = entry;
    const at = typeof name === 'string' && name ? `{{${name}}}` : `${FIELD}[${index}]`;
    const unknown = Object.keys(entry).filter((key) => !ANNOTATION_KEYS.has(key));
    if (unknown.length) throw new PlaceholderProblem(`${at}: unknown annotation key ${unknown.join(', ')} (allowed: ${[...ANNOTATION_KEYS].join(', ')})`, FIELD);
    if (typeof name !== 'string' || !NAME.test(name) || name.length > PLACEHOLDER_LIMITS.name) {
      throw new PlaceholderProblem(`${FIELD}[${index}].name must be a placeholder name (letters, digits and _, not starting with a digit, at most ${PLACEHOLDER_LIMITS.name} characters)`, FIELD);
    }
    if (seen.has(name)) throw new PlaceholderProblem(`${at} is described twice`, FIELD);
    seen.add(name);
    if (typeof type !== 'string' || !(PLACEHOLDER_TYPES as readonly string[]).includes(type)) {
      throw new PlaceholderProblem(`${at}: type must be one of ${PLACEHOLDER_TYPES.join(', ')}`, FIELD);
    }
    if (description !== null && (typeof description !== 'string' || description.length > PLACEHOLDER_LIMITS.description)) {
      throw new PlaceholderProblem(`${at}: description must be a string of at most ${PLACEHOLDER_LIMITS.description} characters`, FIELD);
    }
    if (entry.required !== undefined && typeof entry.required !== 'boolean') throw new PlaceholderProblem(`${at}: required must be true or false`, FIELD);
    const annotation: PlaceholderAnnotation = { name, type: type as PlaceholderType, description, required: entry.required ?? true };
    if ('default' in entry) {
      const problem = typeProblem(annotation.type, fallback);
      if (problem) throw new PlaceholderProblem(`${at}: default ${problem}`, FIELD);
      if (Buffer.byteLength(JSON.stringify(fallback)) > PLACEHOLDER_LIMITS.value_bytes) throw new PlaceholderProblem(`${at}: default is larger than ${PLACEHOLDER_LIMITS.value_bytes} bytes`, FIELD);
      annotation.default = fallback;
    }
    return annotation;
  });
}

/**
 * The annotations must describe exactly the placeholders of the body: one for a placeholder the body
 * does not use is refused, and so is a placeholder of the body without one (every placeholder must be
 * filled to give a script, so each needs a type and, unless a value is always given, a default).
 */
export function checkAnnotationsMatchBody(body: string, annotations: PlaceholderAnnotation[]): void {
  const used = placeholdersIn(body);
  const described = new Set(annotations.map((a) => a.name));
  const unused = annotations.filter((a) => !used.includes(a.name)).map((a) => `{{${a.name}}}`);
  const missing = used.filter((name) => !described.has(name)).map((name) => `{{${name}}}`);
  const problems = [
    ...(unused.length ? [`${FIELD} describes ${unused.join(', ')}, which template_body does not use`] : []),
    ...(missing.length ? [`template_body uses ${missing.join(', ')}, which ${FIELD} does not describe`] : []),
  ];
  if (problems.length) throw new PlaceholderProblem(problems.join('; '), FIELD);
}

/** A value of each type that a template must accept (used to check a template compiles when filled). */
const SAMPLES: Record<PlaceholderType, unknown> = { string: 'sample', number: 1.5, integer: 1, boolean: true, json: {} };

/** The values an instantiation would use, or the caller's values over the annotations' defaults. */
export function resolveValues(annotations: PlaceholderAnnotation[], given: Record<string, unknown>): Record<string, unknown> {
  const known = new Set(annotations.map((a) => a.name));
  const unknown = Object.keys(given).filter((name) => !known.has(name));
  if (unknown.length) throw new PlaceholderProblem(`the template has no placeholder ${unknown.map((n) => `{{${n}}}`).join(', ')}`, `placeholder_values.${unknown[0]}`);
  const values: Record<string, unknown> = {};
  for (const annotation of annotations) {
    const field = `placeholder_values.${annotation.name}`;
    let value = given[annotation.name];
    if (value === undefined) {
      if ('default' in annotation) value = annotation.default;
      else if (annotation.required) throw new PlaceholderProblem(`${field} is required (${annotation.type}${annotation.description ? `: ${annotation.description}` : ''})`, field);
      else value = null;
    } else if (!(value === null && !annotation.required)) {
      const problem = typeProblem(annotation.type, value);
      if (problem) throw new PlaceholderProblem(`${field} ${problem}`, field);
      if (Buffer.byteLength(JSON.stringify(value)) > PLACEHOLDER_LIMITS.value_bytes) throw new PlaceholderProblem(`${field} is larger than ${PLACEHOLDER_LIMITS.value_bytes} bytes`, field);
    }
    values[annotation.name] = value;
  }
  return values;
}

/** Sample values (the default, else one of the type) for every placeholder. */
export function sampleValues(annotations: PlaceholderAnnotation[]): Record<string, unknown> {
  return Object.fromEntries(annotations.map((a) => [a.name, 'default' in a ? a.default : SAMPLES[a.type]]));
}

/** The body with every placeholder replaced by the JavaScript literal of its value. */
export function fillTemplate(body: string, values: Record<string, unknown>): string {
  return body.replace(PLACEHOLDER, (match, name: string) => (name in values ? (JSON.stringify(values[name]) ?? 'null') : match));
}
