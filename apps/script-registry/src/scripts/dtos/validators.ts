import { registerDecorator, ValidateIf, ValidationOptions } from 'class-validator';
import { cronProblem, isHttpPath, isTimeZone } from '../script-rules';

function simple(name: string, message: string, validate: (value: unknown) => boolean, options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({ name, target: target.constructor, propertyName: propertyName as string, options: { message, ...options }, validator: { validate } });
}

/** 5 or 6 fields that cron-parser 5 accepts (the time zone is checked with it in `checkTriggers`). */
export const IsCronExpression = (options?: ValidationOptions) =>
  simple('isCronExpression', 'cron_expression must be a valid cron expression of 5 or 6 fields', (v) => typeof v === 'string' && cronProblem(v) === null, options);

export const IsTimeZone = (options?: ValidationOptions) =>
  simple('isTimeZone', '$property must be an IANA time zone (e.g. Europe/Paris, UTC)', (v) => typeof v === 'string' && isTimeZone(v), options);

export const IsHttpPath = (options?: ValidationOptions) =>
  simple('isHttpPath', '$property must start with / and use only letters, digits and . _ ~ - (at most 500 characters, no . or .. segments)', (v) => typeof v === 'string' && isHttpPath(v), options);

/** Optional, but not nullable: `null` is refused (IsOptional would let it through). */
export const IsAbsentOr = () => ValidateIf((_object, value) => value !== undefined);

/** `a,b` or `?x=a&x=b` (or both) as one de-duplicated list. */
export function splitList(value: unknown): unknown {
  if (value === undefined || value === null) return value;
  const parts = (Array.isArray(value) ? value : [value]).flatMap((v) => (typeof v === 'string' ? v.split(',') : [v]));
  return [...new Set(parts.map((v) => (typeof v === 'string' ? v.trim() : v)).filter((v) => v !== ''))];
}

/** `metadata={"k":"v"}` (JSON) or `metadata[k]=v` (already an object). A string that is not JSON stays a string and fails validation. */
export function parseJsonObject(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
