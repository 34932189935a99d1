import { TERMINAL_EXECUTION_STATUSES } from '@provisio/contracts';
/**
 * Every enum of the seeds, as the values stored in the database (lower case; seed 004's upper-case names
 * are stored lower-cased). Each list is the exact value set of a CHECK constraint in `migrations/`;
 * `migrations/src/migrations.int-spec.ts` compares them with the database, so they cannot drift.
 * Transition maps encode the seeds' state diagrams (see docs/data-model.md for which edges are
 * Provisio's additions).
 */

// ---- tenancy ---------------------------------------------------------------------------------
export const TENANT_STATUSES = ['active', 'suspended', 'disabled'] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number];

// ---- scripts (seed 001 + seed 000) -----------------------------------------------------------
export const SCRIPT_TYPES = ['scheduled', 'http', 'event', 'oneoff', 'embedded'] as const;
export type ScriptType = (typeof SCRIPT_TYPES)[number];

export const SCRIPT_STATUSES = ['draft', 'active', 'paused', 'disabled', 'archived'] as const;
export type ScriptStatus = (typeof SCRIPT_STATUSES)[number];

/** Seed 000 calls a switched-off provisioning script `inactive`; it is stored as `disabled`. */
export const SCRIPT_STATUS_ALIASES = { inactive: 'disabled' } as const satisfies Record<string, ScriptStatus>;

export const SCRIPT_STATUS_TRANSITIONS: Readonly<Record<ScriptStatus, readonly ScriptStatus[]>> = {
  draft: ['active', 'archived'],
  active: ['paused', 'disabled'],
  paused: ['active', 'disabled', 'archived'],
  disabled: ['active', 'archived'],
  archived: [],
};

/** seed 001 + `queued` (seed 004) + `skipped` (seed 000 ExecutionLog). */
export const EXECUTION_STATUSES = ['pending', 'queued', 'running', 'completed', 'failed', 'timeout', 'cancelled', 'skipped'] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

/** The terminal ones are declared in `@provisio/contracts` (TERMINAL_EXECUTION_STATUSES); they are statuses of this list. */
TERMINAL_EXECUTION_STATUSES satisfies readonly ExecutionStatus[];

export const EXECUTION_STATUS_TRANSITIONS: Readonly<Record<ExecutionStatus, readonly ExecutionStatus[]>> = {
  pending: ['queued', 'running', 'cancelled', 'skipped'],
  queued: ['running', 'cancelled', 'skipped'],
  running: ['completed', 'failed', 'timeout', 'cancelled'],
  completed: [],
  failed: [],
  timeout: [],
  cancelled: [],
  skipped: [],
};

/** seed 001 + `hook` and `oneoff` (seed 000: hook bindings and one-off/dry runs). */
export const TRIGGER_TYPES = ['cron', 'http', 'event', 'manual', 'api', 'hook', 'oneoff'] as const;
export type TriggerType = (typeof TRIGGER_TYPES)[number];

/** Seed 000's ExecutionLog.status: a view over `script_executions.status`. */
export const EXECUTION_LOG_STATUSES = ['success', 'failure', 'timeout', 'skipped'] as const;
export type ExecutionLogStatus = (typeof EXECUTION_LOG_STATUSES)[number];

/** `null` while the execution has not finished (an execution log only lists finished runs). */
export function toExecutionLogStatus(status: ExecutionStatus): ExecutionLogStatus | null {
  switch (status) {
    case 'completed':
      return 'success';
    case 'failed':
      return 'failure';
    case 'timeout':
      return 'timeout';
    case 'skipped':
    case 'cancelled':
      return 'skipped';
    case 'pending':
    case 'queued':
    case 'running':
      return null;
  }
}

/** The execution statuses an ExecutionLog status filter selects. */
export const EXECUTION_STATUSES_BY_LOG_STATUS: Readonly<Record<ExecutionLogStatus, readonly ExecutionStatus[]>> = {
  success: ['completed'],
  failure: ['failed'],
  timeout: ['timeout'],
  skipped: ['skipped', 'cancelled'],
};

// ---- hook bindings and templates (seed 000) --------------------------------------------------
export const HOOK_PHASES = ['before', 'after'] as const;
export type HookPhase = (typeof HOOK_PHASES)[number];

export const HOOK_OPERATION_TYPES = ['create', 'update', 'delete', 'enable', 'disable'] as const;
export type HookOperationType = (typeof HOOK_OPERATION_TYPES)[number];

export const HOOK_FAILURE_POLICIES = ['abort', 'continue', 'retry'] as const;
export type HookFailurePolicy = (typeof HOOK_FAILURE_POLICIES)[number];

/** Bounds enforced by CHECK constraints on `hook_bindings`. */
export const HOOK_BINDING_LIMITS = { max_retries: { min: 0, max: 10 }, timeout_seconds: { min: 1, max: 300 } } as const;

export const TEMPLATE_CATEGORIES = ['attribute_mapping', 'value_generation', 'conditional_logic', 'data_formatting', 'custom'] as const;
export type TemplateCategory = (typeof TEMPLATE_CATEGORIES)[number];

// ---- script parameters and schedules (seed 004, stored lower case) ---------------------------
export const PARAMETER_TYPES = [
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
export type ParameterType = (typeof PARAMETER_TYPES)[number];

export const SCHEDULE_FREQUENCIES = ['once', 'daily', 'weekly', 'monthly', 'yearly', 'cron', 'interval'] as const;
export type ScheduleFrequency = (typeof SCHEDULE_FREQUENCIES)[number];

export const SCHEDULE_STATUSES = ['active', 'paused', 'disabled'] as const;
export type ScheduleStatus = (typeof SCHEDULE_STATUSES)[number];

export const SCHEDULE_DAY_FILTERS = ['all', 'weekdays', 'weekends'] as const;
export type ScheduleDayFilter = (typeof SCHEDULE_DAY_FILTERS)[number];

export const MISFIRE_POLICIES = ['skip', 'run_once'] as const;
export type MisfirePolicy = (typeof MISFIRE_POLICIES)[number];

export const SCHEDULE_FAILURE_ACTIONS = ['continue', 'pause', 'notify', 'disable'] as const;
export type ScheduleFailureAction = (typeof SCHEDULE_FAILURE_ACTIONS)[number];

// ---- connectors and identities (seed 002) ----------------------------------------------------
export const CONNECTOR_TYPES = ['scim', 'ldap', 'sql'] as const;
export type ConnectorType = (typeof CONNECTOR_TYPES)[number];

export const CONNECTOR_STATUSES = ['active', 'inactive', 'error'] as const;
export type ConnectorStatus = (typeof CONNECTOR_STATUSES)[number];

export const IDENTITY_STATUSES = ['active', 'inactive', 'suspended', 'deleted'] as const;
export type IdentityStatus = (typeof IDENTITY_STATUSES)[number];

// ---- provisioning (seed 002) -----------------------------------------------------------------
export const OPERATION_TYPES = ['create', 'update', 'delete'] as const;
export type OperationType = (typeof OPERATION_TYPES)[number];

export const OPERATION_STATUSES = ['pending', 'in_progress', 'completed', 'failed', 'dead_letter', 'awaiting_system', 'resolved', 'cancelled'] as const;
export type OperationStatus = (typeof OPERATION_STATUSES)[number];

export const OPERATION_STATUS_TRANSITIONS: Readonly<Record<OperationStatus, readonly OperationStatus[]>> = {
  pending: ['in_progress', 'cancelled'],
  in_progress: ['completed', 'failed', 'awaiting_system'],
  failed: ['pending', 'dead_letter'],
  dead_letter: ['pending', 'resolved'],
  awaiting_system: ['pending', 'cancelled'],
  completed: [],
  resolved: [],
  cancelled: [],
};

export const OPERATION_LOG_LEVELS = ['info', 'warn', 'error'] as const;
export type OperationLogLevel = (typeof OPERATION_LOG_LEVELS)[number];

export const CONFLICT_STATUSES = ['pending', 'resolved'] as const;
export type ConflictStatus = (typeof CONFLICT_STATUSES)[number];

export const CONFLICT_OUTCOMES = ['applied', 'superseded', 'merged', 'rejected'] as const;
export type ConflictOutcome = (typeof CONFLICT_OUTCOMES)[number];

// ---- reconciliation (seed 002) ---------------------------------------------------------------
export const RECONCILIATION_MODES = ['full', 'delta'] as const;
export type ReconciliationMode = (typeof RECONCILIATION_MODES)[number];

export const RECONCILIATION_RUN_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled', 'paused'] as const;
export type ReconciliationRunStatus = (typeof RECONCILIATION_RUN_STATUSES)[number];

export const RECONCILIATION_RUN_TRANSITIONS: Readonly<Record<ReconciliationRunStatus, readonly ReconciliationRunStatus[]>> = {
  pending: ['running', 'cancelled'],
  running: ['completed', 'failed', 'cancelled', 'paused'],
  paused: ['running', 'cancelled'],
  completed: [],
  failed: [],
  cancelled: [],
};

export const DISCREPANCY_TYPES = ['missing', 'orphan', 'mismatch', 'collision', 'unlinked', 'deleted'] as const;
export type DiscrepancyType = (typeof DISCREPANCY_TYPES)[number];

export const RESOLUTION_STATUSES = ['pending', 'resolved', 'ignored'] as const;
export type ResolutionStatus = (typeof RESOLUTION_STATUSES)[number];

export const RESOLUTION_STATUS_TRANSITIONS: Readonly<Record<ResolutionStatus, readonly ResolutionStatus[]>> = {
  pending: ['resolved', 'ignored'],
  resolved: [],
  ignored: [],
};

export const REMEDIATION_ACTIONS = ['create', 'update', 'delete', 'link', 'unlink', 'inactivate_identity'] as const;
export type RemediationAction = (typeof REMEDIATION_ACTIONS)[number];

export const REMEDIATION_DIRECTIONS = ['xavyo_to_target', 'target_to_xavyo'] as const;
export type RemediationDirection = (typeof REMEDIATION_DIRECTIONS)[number];

/** Where a RemediationResult stands: `pending` while the provisioning queue works its operation. */
export const REMEDIATION_STATUSES = ['pending', 'succeeded', 'failed'] as const;
export type RemediationStatus = (typeof REMEDIATION_STATUSES)[number];

/** Seed 002's ScheduleFrequency (reconciliation schedules; script schedules use SCHEDULE_FREQUENCIES). */
export const RECONCILIATION_FREQUENCIES = ['hourly', 'daily', 'weekly', 'monthly', 'cron'] as const;
export type ReconciliationFrequency = (typeof RECONCILIATION_FREQUENCIES)[number];

/** What became of a reconciliation schedule's last occurrence (`reconciliation_schedules.last_outcome`). */
export const RECONCILIATION_SCHEDULE_OUTCOMES = ['requested', 'started', 'skipped'] as const;
export type ReconciliationScheduleOutcome = (typeof RECONCILIATION_SCHEDULE_OUTCOMES)[number];

/** Whether `to` is a legal next state of `from` in a transition map. */
export function canTransition<S extends string>(transitions: Readonly<Record<S, readonly S[]>>, from: S, to: S): boolean {
  return transitions[from]?.includes(to) ?? false;
}
