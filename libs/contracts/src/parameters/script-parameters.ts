import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

/**
 * Seed 004's typed script parameters as a contract: the registry checks definitions and every run's
 * input with it, the execution worker checks the input of every run it creates (event and scheduled
 * runs included) and reveals secrets just before the run. One JSON Schema is derived per script and
 * validated with ajv (+ ajv-formats), so the rules live here once.
 */
export const SCRIPT_PARAMETER_TYPES = [
  'string',
  'integer',
  'float',
  'boolean',
  'json',
  'email',
  'url',
  'password',
  'text',
  'select',
  'multiselect',
  'file',
  'date',
  'datetime',
] as const;
export type ScriptParameterType = (typeof SCRIPT_PARAMETER_TYPES)[number];

/** Types whose values are secrets whatever `is_secret` says. */
export const ALWAYS_SECRET_TYPES: readonly ScriptParameterType[] = ['password'];

export interface ScriptParameterRules {
  pattern?: string;
  min_length?: number;
  max_length?: number;
  min?: number | string;
  max?: number | string;
  allowed_extensions?: string[];
  custom?: Record<string, unknown>;
}

/** `equals`, `not_equals` or `in`: when the parameter it depends on meets it, the dependent one applies. */
export interface ScriptParameterCondition {
  equals?: unknown;
  not_equals?: unknown;
  in?: unknown[];
}

/** What validation needs of a `script_parameters` row (dependencies by name). */
export interface ScriptParameterDefinition {
  name: string;
  type: ScriptParameterType;
  required: boolean;
  /** Absent for a secret parameter (its default is sealed, revealed only at run time). */
  default_value?: unknown;
  /** True when a secret parameter has a sealed default. */
  has_secret_default?: boolean;
  is_secret: boolean;
  validation_rules: ScriptParameterRules;
  options: { value: unknown; label?: string }[] | null;
  depends_on: string | null;
  depends_on_condition: ScriptParameterCondition | null;
}

/** A secret value as stored (in an execution's input or a parameter's default): sealed text. */
export interface SealedValue {
  $sealed: string;
}

export const MASKED_SECRET = '********';

export function isSecretParameter(p: Pick<ScriptParameterDefinition, 'type' | 'is_secret'>): boolean {
  return p.is_secret || ALWAYS_SECRET_TYPES.includes(p.type);
}

export function isSealedValue(value: unknown): value is SealedValue {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as SealedValue).$sealed === 'string' && Object.keys(value).length === 1;
}

/** A FILE parameter's value: the file's name and its content, base64-encoded. */
const FILE_SCHEMA = {
  type: 'object',
  required: ['name', 'content_base64'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 255 },
    content_type: { type: 'string', maxLength: 255 },
    content_base64: { type: 'string', contentEncoding: 'base64', pattern: '^[A-Za-z0-9+/]*={0,2}$' },
  },
};

const caseless = (text: string) => [...text].map((c) => (/[a-z]/i.test(c) ? `[${c.toLowerCase()}${c.toUpperCase()}]` : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('');

/** The JSON Schema of one parameter's value. */
export function parameterValueSchema(p: ScriptParameterDefinition): Record<string, unknown> {
  const r = p.validation_rules ?? {};
  const text = (format?: string) => ({
    type: 'string',
    ...(format ? { format } : {}),
    ...(r.min_length !== undefined ? { minLength: r.min_length } : {}),
    ...(r.max_length !== undefined ? { maxLength: r.max_length } : {}),
    ...(r.pattern !== undefined ? { pattern: r.pattern } : {}),
  });
  const range = (type: 'integer' | 'number') => ({
    type,
    ...(typeof r.min === 'number' ? { minimum: r.min } : {}),
    ...(typeof r.max === 'number' ? { maximum: r.max } : {}),
  });
  const moment = (format: 'date' | 'date-time') => ({
    type: 'string',
    format,
    ...(typeof r.min === 'string' ? { formatMinimum: r.min } : {}),
    ...(typeof r.max === 'string' ? { formatMaximum: r.max } : {}),
  });
  const values = (p.options ?? []).map((o) => o.value);
  switch (p.type) {
    case 'string':
    case 'text':
    case 'password':
      return text();
    case 'email':
      return text('email');
    case 'url':
      return { ...text('uri'), pattern: r.pattern ?? '^[hH][tT][tT][pP][sS]?://' };
    case 'integer':
      return range('integer');
    case 'float':
      return range('number');
    case 'boolean':
      return { type: 'boolean' };
    case 'json':
      return r.custom && typeof r.custom.schema === 'object' ? (r.custom.schema as Record<string, unknown>) : {};
    case 'select':
      return { enum: values };
    case 'multiselect':
      return {
        type: 'array',
        uniqueItems: true,
        items: { enum: values },
        ...(typeof r.min === 'number' ? { minItems: r.min } : {}),
        ...(typeof r.max === 'number' ? { maxItems: r.max } : {}),
      };
    case 'file': {
      const name = r.allowed_extensions?.length ? { ...FILE_SCHEMA.properties.name, pattern: `\\.(?:${r.allowed_extensions.map((e) => caseless(e.replace(/^\./, ''))).join('|')})$` } : FILE_SCHEMA.properties.name;
      const content = r.max_length !== undefined ? { ...FILE_SCHEMA.properties.content_base64, maxLength: Math.ceil(r.max_length / 3) * 4 } : FILE_SCHEMA.properties.content_base64;
      return { ...FILE_SCHEMA, properties: { ...FILE_SCHEMA.properties, name, content_base64: content } };
    }
    case 'date':
      return moment('date');
    case 'datetime':
      return moment('date-time');
  }
}

function conditionSchema(condition: ScriptParameterCondition | null): Record<string, unknown> {
  if (!condition) return {};
  if ('equals' in condition) return { const: condition.equals };
  if ('not_equals' in condition) return { not: { const: condition.not_equals } };
  if (Array.isArray(condition.in)) return { enum: condition.in };
  return {};
}

/**
 * The script's input schema: an object of its parameters, no other key. A parameter that depends on
 * another applies only while the other one meets its condition (JSON Schema `if`/`then`); otherwise it is
 * not required. A secret value may arrive sealed (`{ "$sealed": … }`, the worker's stored form).
 */
export function scriptInputSchema(parameters: readonly ScriptParameterDefinition[]): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  const allOf: unknown[] = [];
  for (const p of parameters) {
    const value = parameterValueSchema(p);
    const withDefault = p.default_value !== undefined && p.default_value !== null && !isSecretParameter(p) ? { ...value, default: p.default_value } : value;
    properties[p.name] = isSecretParameter(p) ? { anyOf: [value, { type: 'object', required: ['$sealed'], additionalProperties: false, properties: { $sealed: { type: 'string' } } }] } : withDefault;
    const satisfiedByDefault = (p.default_value !== undefined && p.default_value !== null) || p.has_secret_default;
    if (!p.required || satisfiedByDefault) continue;
    if (p.depends_on) allOf.push({ if: { required: [p.depends_on], properties: { [p.depends_on]: conditionSchema(p.depends_on_condition) } }, then: { required: [p.name] } });
    else required.push(p.name);
  }
  return { type: 'object', additionalProperties: false, properties, required, ...(allOf.length ? { allOf } : {}) };
}

export type InputCheck = { ok: true; input: Record<string, unknown> } | { ok: false; parameter: string; message: string };

const ajv = new Ajv({ allErrors: false, useDefaults: true, strict: false, unicodeRegExp: true });
addFormats(ajv, { mode: 'full', keywords: true });

function messageOf(error: ErrorObject): { parameter: string; message: string } {
  const path = error.instancePath.split('/').slice(1);
  if (error.keyword === 'required') return { parameter: String(error.params.missingProperty), message: 'is required' };
  if (error.keyword === 'additionalProperties' && path.length === 0) return { parameter: String(error.params.additionalProperty), message: 'is not a parameter of this script' };
  const parameter = path[0] ?? '';
  const where = path.length > 1 ? ` (at ${path.slice(1).join('.')})` : '';
  if (error.keyword === 'enum') return { parameter, message: `must be one of ${JSON.stringify(error.params.allowedValues)}${where}` };
  return { parameter, message: `${(error.message ?? 'is invalid').replace(/^should /, 'must ')}${where}` };
}

const compiled = new Map<string, ValidateFunction>();
const MAX_COMPILED = 500;

function validatorFor(parameters: readonly ScriptParameterDefinition[]): ValidateFunction {
  const schema = scriptInputSchema(parameters);
  const key = JSON.stringify(schema);
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile(schema);
    if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, validate);
  }
  return validate;
}

/**
 * Checks a run's input against the script's parameters, filling non-secret defaults; the error names the
 * first wrong parameter. A parameter whose condition does not hold is dropped from the input. A script
 * without parameters takes any JSON object (as before parameters existed).
 */
export function checkScriptInput(parameters: readonly ScriptParameterDefinition[], input: unknown): InputCheck {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { ok: false, parameter: '', message: 'input must be a JSON object' };
  if (parameters.length === 0) return { ok: true, input: { ...(input as Record<string, unknown>) } };
  const copy = structuredClone(input) as Record<string, unknown>;
  const validate = validatorFor(parameters);
  if (!validate(copy)) return { ok: false, ...messageOf(validate.errors![0]) };
  for (const p of parameters) {
    if (p.depends_on && !conditionHolds(p, copy)) delete copy[p.name];
  }
  return { ok: true, input: copy };
}

function conditionHolds(p: ScriptParameterDefinition, input: Record<string, unknown>): boolean {
  if (!p.depends_on || !(p.depends_on in input)) return false;
  const check = ajv.compile(conditionSchema(p.depends_on_condition));
  return check(input[p.depends_on]) as boolean;
}

/** `input.<name> …`: how an API answer or a failed execution names a wrong parameter. */
export function inputErrorMessage(check: Extract<InputCheck, { ok: false }>): string {
  return check.parameter ? `input.${check.parameter} ${check.message}` : check.message;
}

export type SecretCipher = (value: unknown, parameter: string) => string;
export type SecretDecipher = (sealed: string, parameter: string) => unknown;

/** Replaces the secret values of a (checked) input by their sealed form, for storing. */
export function sealSecretInput(parameters: readonly ScriptParameterDefinition[], input: Record<string, unknown>, seal: SecretCipher): Record<string, unknown> {
  const out = { ...input };
  for (const p of parameters) {
    if (isSecretParameter(p) && p.name in out && !isSealedValue(out[p.name])) out[p.name] = { $sealed: seal(out[p.name], p.name) } satisfies SealedValue;
  }
  return out;
}

/** The input as an API shows it or a log line carries it: every secret value masked. */
export function maskSecretInput(parameters: readonly Pick<ScriptParameterDefinition, 'name' | 'type' | 'is_secret'>[], input: unknown): unknown {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
  const out = { ...(input as Record<string, unknown>) };
  const secret = new Set(parameters.filter(isSecretParameter).map((p) => p.name));
  for (const key of Object.keys(out)) if (secret.has(key) || isSealedValue(out[key])) out[key] = MASKED_SECRET;
  return out;
}

/**
 * The input a script sees, at run time only: sealed values opened, and secret defaults (sealed on the
 * parameter) filled where the input has none. `defaults` maps a parameter name to its sealed default.
 */
export function revealSecretInput(input: Record<string, unknown>, defaults: ReadonlyMap<string, string>, open: SecretDecipher): Record<string, unknown> {
  const out = { ...input };
  for (const [name, value] of Object.entries(out)) if (isSealedValue(value)) out[name] = open(value.$sealed, name);
  for (const [name, sealed] of defaults) if (!(name in out)) out[name] = open(sealed, name);
  return out;
}

const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*(?:[+*]|\{\d+,\d*\})(?:[^()\\]|\\.)*\)\s*(?:[+*]|\{\d+,\d*\})/;

export interface DefinitionProblem {
  /** e.g. `parameters.2.validation_rules.pattern` (as class-validator names nested fields). */
  field: string;
  message: string;
}

/**
 * Checks a whole set of definitions (what `PUT /scripts/{id}/parameters` takes): rules that fit the type,
 * patterns that compile, ranges in order, options for select types, defaults valid against their own
 * parameter, dependencies on another parameter of the set without a cycle. Answers the first problem.
 */
export function checkParameterDefinitions(parameters: readonly ScriptParameterDefinition[]): DefinitionProblem | null {
  const names = new Map(parameters.map((p, i) => [p.name, i]));
  for (const [i, p] of parameters.entries()) {
    const at = (field: string) => `parameters.${i}${field ? `.${field}` : ''}`;
    const r = p.validation_rules ?? {};
    if (r.pattern !== undefined) {
      if (typeof r.pattern !== 'string' || r.pattern.length > 500) return { field: at('validation_rules.pattern'), message: 'must be a regular expression of at most 500 characters' };
      // Patterns run in the registry and the worker on tenants' input: a quantified group that itself
      // holds a quantifier (`(a+)+`) can backtrack for minutes, so it is refused.
      if (NESTED_QUANTIFIER.test(r.pattern)) return { field: at('validation_rules.pattern'), message: 'must not repeat a group that holds a repetition (catastrophic backtracking)' };
      try {
        new RegExp(r.pattern, 'u');
      } catch {
        return { field: at('validation_rules.pattern'), message: 'is not a valid regular expression' };
      }
    }
    for (const key of ['min_length', 'max_length'] as const) {
      if (r[key] !== undefined && (!Number.isSafeInteger(r[key]) || r[key]! < 0)) return { field: at(`validation_rules.${key}`), message: 'must be a non-negative integer' };
    }
    if (r.min_length !== undefined && r.max_length !== undefined && r.min_length > r.max_length) return { field: at('validation_rules.min_length'), message: 'must not exceed max_length' };
    const moment = p.type === 'date' || p.type === 'datetime';
    for (const key of ['min', 'max'] as const) {
      const v = r[key];
      if (v === undefined) continue;
      if (moment ? typeof v !== 'string' || !ajv.validate({ type: 'string', format: p.type === 'date' ? 'date' : 'date-time' }, v) : typeof v !== 'number' || !Number.isFinite(v)) {
        return { field: at(`validation_rules.${key}`), message: moment ? `must be a ${p.type === 'date' ? 'date (YYYY-MM-DD)' : 'date-time (RFC 3339)'}` : 'must be a finite number' };
      }
    }
    if (r.min !== undefined && r.max !== undefined && (moment ? Date.parse(String(r.min)) > Date.parse(String(r.max)) : (r.min as number) > (r.max as number))) return { field: at('validation_rules.min'), message: 'must not exceed max' };
    if (r.allowed_extensions !== undefined && (!Array.isArray(r.allowed_extensions) || r.allowed_extensions.some((e) => typeof e !== 'string' || !/^\.?[A-Za-z0-9_-]{1,20}$/.test(e)))) {
      return { field: at('validation_rules.allowed_extensions'), message: 'must be file extensions such as ".csv"' };
    }
    if (p.type === 'select' || p.type === 'multiselect') {
      if (!p.options?.length) return { field: at('options'), message: `are required for a ${p.type} parameter` };
      const seen = new Set(p.options.map((o) => JSON.stringify(o.value)));
      if (seen.size !== p.options.length) return { field: at('options'), message: 'must not repeat a value' };
    } else if (p.options?.length) {
      return { field: at('options'), message: 'are only for select and multiselect parameters' };
    }
    if (p.type === 'json' && r.custom?.schema !== undefined) {
      try {
        ajv.compile(r.custom.schema as Record<string, unknown>);
      } catch (error) {
        return { field: at('validation_rules.custom.schema'), message: `is not a valid JSON Schema: ${(error as Error).message}` };
      }
    }
    if (p.default_value !== undefined && p.default_value !== null) {
      const validate = ajv.compile(parameterValueSchema(p));
      if (!validate(structuredClone(p.default_value))) return { field: at('default_value'), message: `does not fit the parameter: ${validate.errors?.[0]?.message ?? 'invalid'}` };
    }
    if (p.depends_on !== null && p.depends_on !== undefined) {
      if (p.depends_on === p.name) return { field: at('depends_on'), message: 'cannot be the parameter itself' };
      if (!names.has(p.depends_on)) return { field: at('depends_on'), message: `names no parameter of this script (${p.depends_on})` };
      if (!p.depends_on_condition || Object.keys(p.depends_on_condition).length !== 1 || !['equals', 'not_equals', 'in'].includes(Object.keys(p.depends_on_condition)[0]) || ('in' in p.depends_on_condition && !Array.isArray(p.depends_on_condition.in))) {
        return { field: at('depends_on_condition'), message: 'must be { "equals": v }, { "not_equals": v } or { "in": [v, …] }' };
      }
    } else if (p.depends_on_condition) {
      return { field: at('depends_on_condition'), message: 'needs depends_on' };
    }
  }
  // A chain of dependencies must end: follow each one, at most as many steps as there are parameters.
  for (const [i, p] of parameters.entries()) {
    let next = p.depends_on;
    for (let steps = 0; next; steps++) {
      if (steps > parameters.length) return { field: `parameters.${i}.depends_on`, message: 'makes a cycle of dependencies' };
      next = parameters[names.get(next)!]?.depends_on ?? null;
    }
  }
  return null;
}
