/**
 * The business rules of a script (seed 001 "Business Rules", seed 000's statuses), as pure functions:
 * what each type needs, what a cron expression, time zone and HTTP path must look like, resource limits
 * and their defaults, and the status lifecycle. The DTOs check shapes; these check meaning and the
 * rules that span fields. Everything here throws domain errors naming the field.
 */
import { CronExpressionParser } from 'cron-parser';
import { DOMAIN_EVENT_TYPE_PATTERN } from '@provisio/contracts';
import {
  DEFAULT_RESOURCE_LIMITS,
  ResourceLimits,
  SCRIPT_STATUS_ALIASES,
  SCRIPT_STATUS_TRANSITIONS,
  SCRIPT_STATUSES,
  ScheduleStatus,
  ScriptStatus,
  ScriptType,
} from '@provisio/persistence';
import { InvalidTransitionError, ValidationError } from '@provisio/platform';

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** Event types a script subscribes to: dotted lower-case names (`user.created`), as domain events carry. */
export const EVENT_TYPE_PATTERN = DOMAIN_EVENT_TYPE_PATTERN;

/** `/a/b-c/d_e.f~g`: unreserved URL characters only, no empty, `.` or `..` segments. */
export const HTTP_PATH_PATTERN = /^\/(?:[A-Za-z0-9._~-]+(?:\/[A-Za-z0-9._~-]+)*\/?)?$/;

/** `Area/City`, `UTC`, `Etc/GMT+1`, … (then checked against the runtime's IANA database). */
const TIME_ZONE_PATTERN = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/;

export const DEFAULT_TIMEZONE = 'UTC';

/**
 * Bounds of each `resource_limits` key. The maxima are the sandbox's own ceilings (libs/sandbox
 * `MAX_RESOURCE_LIMITS`): a limit the sandbox would clamp is refused here instead of silently lowered.
 */
export const RESOURCE_LIMIT_BOUNDS = {
  max_execution_time_ms: { min: 1, max: 15 * 60_000 },
  max_memory_bytes: { min: 1024 * 1024, max: 1024 * 1024 * 1024 },
  max_concurrent_runs: { min: 1, max: 1000 },
  max_api_calls_per_minute: { min: 1, max: 100_000 },
  max_output_size_bytes: { min: 1, max: 64 * 1024 * 1024 },
  max_stack_size_bytes: { min: 16 * 1024, max: 4 * 1024 * 1024 },
} as const;
export type ResourceLimitKey = keyof typeof RESOURCE_LIMIT_BOUNDS;

/** Seed 001's defaults for missing keys, then the given keys over `base` (the current limits on update). */
export function resolveResourceLimits(given: Partial<Record<ResourceLimitKey, number>> | undefined, base: ResourceLimits = DEFAULT_RESOURCE_LIMITS): ResourceLimits {
  const limits: ResourceLimits = { ...DEFAULT_RESOURCE_LIMITS, ...base };
  for (const [key, value] of Object.entries(given ?? {})) if (typeof value === 'number') limits[key] = value;
  return limits;
}

/** Remembers the answers of a pure check (parsing a cron or building a time zone is not cheap; every change of a scheduled script re-checks them). */
function memoize<T>(check: (key: string) => T, limit = 10_000): (key: string) => T {
  const answers = new Map<string, T>();
  return (key) => {
    if (answers.has(key)) return answers.get(key)!;
    const answer = check(key);
    if (answers.size >= limit) answers.clear();
    answers.set(key, answer);
    return answer;
  };
}

const cronProblemOf = memoize((key: string) => {
  const [expression, timezone] = JSON.parse(key) as [string, string | null];
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) return `cron_expression must have 5 or 6 fields, not ${fields.length}`;
  try {
    CronExpressionParser.parse(expression, timezone ? { tz: timezone } : {});
    return null;
  } catch (error) {
    return `cron_expression is invalid: ${(error as Error).message}`;
  }
});

/** Why a cron expression is not acceptable, or null: 5 fields (minute …) or 6 (second …), as cron-parser 5 reads them. */
export function cronProblem(expression: string, timezone?: string | null): string | null {
  return cronProblemOf(JSON.stringify([expression, timezone ?? null]));
}

export const isTimeZone = memoize((value: string): boolean => {
  if (!TIME_ZONE_PATTERN.test(value)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return true;
  } catch {
    return false;
  }
});

export function isHttpPath(value: string): boolean {
  return value.length <= 500 && HTTP_PATH_PATTERN.test(value) && !value.split('/').some((segment) => segment === '.' || segment === '..');
}

/** The trigger configuration of a script: which fields its type needs, and only those. */
export interface Triggers {
  type: ScriptType;
  cron_expression: string | null;
  timezone: string | null;
  http_path: string | null;
  http_methods: string[] | null;
  event_types: string[] | null;
}

const TRIGGER_OWNER: Record<Exclude<keyof Triggers, 'type'>, ScriptType> = {
  cron_expression: 'scheduled',
  timezone: 'scheduled',
  http_path: 'http',
  http_methods: 'http',
  event_types: 'event',
};

const isSet = (value: unknown) => value !== null && value !== undefined && !(Array.isArray(value) && value.length === 0);

/** Seed 001: scheduled scripts need a cron, HTTP scripts a path (and methods), event scripts an event type. */
export function checkTriggers(triggers: Triggers): void {
  for (const [field, owner] of Object.entries(TRIGGER_OWNER) as [keyof typeof TRIGGER_OWNER, ScriptType][]) {
    if (owner !== triggers.type && isSet(triggers[field])) throw new ValidationError(`${field} applies only to ${owner} scripts, not ${triggers.type}`, field);
  }
  switch (triggers.type) {
    case 'scheduled': {
      if (!triggers.cron_expression) throw new ValidationError('a scheduled script needs cron_expression', 'cron_expression');
      if (triggers.timezone && !isTimeZone(triggers.timezone)) throw new ValidationError('timezone must be an IANA time zone', 'timezone');
      const problem = cronProblem(triggers.cron_expression, triggers.timezone);
      if (problem) throw new ValidationError(problem, 'cron_expression');
      return;
    }
    case 'http':
      if (!triggers.http_path) throw new ValidationError('an http script needs http_path', 'http_path');
      if (!isHttpPath(triggers.http_path)) throw new ValidationError('http_path must start with / and use only letters, digits and . _ ~ -', 'http_path');
      if (!isSet(triggers.http_methods)) throw new ValidationError(`an http script needs http_methods (some of ${HTTP_METHODS.join(', ')})`, 'http_methods');
      return;
    case 'event':
      if (!isSet(triggers.event_types)) throw new ValidationError('an event script needs at least one event type', 'event_types');
      return;
    case 'oneoff':
    case 'embedded':
      return;
  }
}

/**
 * The triggers after an update. When the type changes, the fields of the old type that the update does
 * not restate are cleared (a scheduled script turned into an event script loses its cron). A scheduled
 * script always has a time zone (UTC unless given).
 */
export function mergeTriggers(current: Triggers, update: Partial<Triggers>): Triggers {
  const type = update.type ?? current.type;
  const base: Triggers =
    type === current.type ? current : { type, cron_expression: null, timezone: null, http_path: null, http_methods: null, event_types: null };
  const merged: Triggers = { ...base };
  for (const key of Object.keys(TRIGGER_OWNER) as (keyof typeof TRIGGER_OWNER)[]) {
    if (update[key] !== undefined) (merged as unknown as Record<string, unknown>)[key] = update[key];
  }
  merged.type = type;
  if (type === 'scheduled' && !merged.timezone) merged.timezone = DEFAULT_TIMEZONE;
  return merged;
}

/** Statuses the API accepts: seed 001's, plus seed 000's `inactive` (stored as `disabled`). */
export const ACCEPTED_STATUSES = [...SCRIPT_STATUSES, ...Object.keys(SCRIPT_STATUS_ALIASES)] as const;

export function resolveStatus(status: string): ScriptStatus {
  const aliased = (SCRIPT_STATUS_ALIASES as Record<string, ScriptStatus>)[status] ?? status;
  if (!(SCRIPT_STATUSES as readonly string[]).includes(aliased)) throw new ValidationError(`status must be one of ${ACCEPTED_STATUSES.join(', ')}`, 'status');
  return aliased as ScriptStatus;
}

/** Checks a lifecycle step (draft → active → paused/disabled → archived); 409 listing the allowed ones. */
export function checkTransition(from: ScriptStatus, to: ScriptStatus): void {
  const allowed = SCRIPT_STATUS_TRANSITIONS[from];
  if (!allowed.includes(to)) throw new InvalidTransitionError('script', from, to, allowed);
}

/** The audit action of reaching a status. */
export const STATUS_ACTIONS: Record<ScriptStatus, string> = {
  draft: 'draft',
  active: 'activate',
  paused: 'pause',
  disabled: 'disable',
  archived: 'archive',
};

/**
 * The scheduled job's status for a script status. Only `active` jobs are claimed by the scheduler; a
 * draft has not been switched on yet (paused), an archived script is switched off for good (disabled).
 */
export const JOB_STATUS_OF: Record<ScriptStatus, ScheduleStatus> = {
  draft: 'paused',
  active: 'active',
  paused: 'paused',
  disabled: 'disabled',
  archived: 'disabled',
};
