import { z } from 'zod';

/**
 * The `type` of every event Provisio emits, and the payload schema of each. Upstream domain events
 * (`user.created` ...) are typed by their producers; see `domainEventDataSchema`.
 */
export const EventType = {
  ScriptChanged: 'provisio.script.changed',
  ScriptExecutionRequested: 'provisio.script.execution.requested',
  ScriptExecutionFinished: 'provisio.script.execution.finished',
  ScriptExecutionCancelled: 'provisio.script.execution.cancelled',
  ScriptEventDeadLettered: 'provisio.script.event.dead-lettered',
  OperationRequested: 'provisio.operation.requested',
  OperationCreated: 'provisio.operation.created',
  OperationFinished: 'provisio.operation.finished',
  OperationDeadLettered: 'provisio.operation.dead-lettered',
  ReconciliationRequested: 'provisio.reconciliation.requested',
  ReconciliationFinished: 'provisio.reconciliation.finished',
} as const;
export type EventTypeName = (typeof EventType)[keyof typeof EventType];

/** Domain events upstream identity systems publish. `*.created|updated|deleted|...` of users and groups. */
export const DOMAIN_EVENT_TYPE_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;

/** A domain event's data is a JSON object; events about a user name it so ordering per account holds. */
export const domainEventDataSchema = z
  .object({
    user_id: z.string().min(1).optional(),
    identity_id: z.uuid().optional(),
  })
  .catchall(z.unknown());
export type DomainEventData = z.infer<typeof domainEventDataSchema>;

export const scriptChangedSchema = z.object({
  script_id: z.uuid(),
  change: z.enum(['created', 'updated', 'status_changed', 'deleted', 'version_created']),
  status: z.string().optional(),
  current_version: z.number().int().nonnegative().optional(),
});
export type ScriptChanged = z.infer<typeof scriptChangedSchema>;

export const EXECUTION_REQUEST_TRIGGERS = ['manual', 'api', 'oneoff', 'cron'] as const;
export const scriptExecutionRequestedSchema = z.object({
  script_id: z.uuid(),
  trigger_type: z.enum(EXECUTION_REQUEST_TRIGGERS),
  input: z.record(z.string(), z.unknown()).default({}),
  trigger_data: z.record(z.string(), z.unknown()).default({}),
  requested_by: z.string().optional(),
  /**
   * Set by the registry's run-now (`POST /scripts/{id}/executions`): the pending execution it already
   * recorded (with the input checked and secrets sealed). The worker runs that row instead of creating one.
   */
  execution_id: z.uuid().optional(),
  /** Set by the scheduler: the occurrence this request fires, so its outcome can be matched back. */
  scheduled_job_id: z.uuid().optional(),
  scheduled_for: z.iso.datetime({ offset: true }).optional(),
});
export type ScriptExecutionRequested = z.infer<typeof scriptExecutionRequestedSchema>;

/**
 * The statuses an execution ends in (`script_executions.status`, seed 001 + 000): declared once, here,
 * for the finished event, the scheduler's outcomes, the worker's runs and the registry's logs.
 */
export const TERMINAL_EXECUTION_STATUSES = ['completed', 'failed', 'timeout', 'cancelled', 'skipped'] as const;
export type TerminalExecutionStatus = (typeof TERMINAL_EXECUTION_STATUSES)[number];

export const scriptExecutionFinishedSchema = z.object({
  execution_id: z.uuid(),
  script_id: z.uuid(),
  status: z.enum(TERMINAL_EXECUTION_STATUSES),
  trigger_type: z.string(),
  duration_ms: z.number().nonnegative(),
  error: z.string().nullable().optional(),
  scheduled_job_id: z.uuid().optional(),
  scheduled_for: z.iso.datetime({ offset: true }).optional(),
});
export type ScriptExecutionFinished = z.infer<typeof scriptExecutionFinishedSchema>;

/**
 * The scheduler fired an occurrence of a reconciliation schedule (seed 002's ReconciliationSchedule): the
 * reconciler starts a run of the connector with `schedule_id` and `scheduled_for` set (one run per
 * occurrence), or records the occurrence as skipped while the connector has a run in progress.
 * `catch_up`: the occurrence fired late, after every missed one (downtime) was folded into it.
 */
export const reconciliationRequestedSchema = z.object({
  schedule_id: z.uuid(),
  connector_id: z.uuid(),
  mode: z.enum(['full', 'delta']),
  dry_run: z.boolean().default(false),
  scheduled_for: z.iso.datetime({ offset: true }),
  frequency: z.enum(['hourly', 'daily', 'weekly', 'monthly', 'cron']),
  catch_up: z.boolean().default(false),
  missed_occurrences: z.number().int().nonnegative().optional(),
});
export type ReconciliationRequested = z.infer<typeof reconciliationRequestedSchema>;

/** A running execution was cancelled (its row already says `cancelled`): the worker holding it interrupts the sandbox. */
export const scriptExecutionCancelledSchema = z.object({
  execution_id: z.uuid(),
  script_id: z.uuid(),
  cancelled_by: z.string(),
});
export type ScriptExecutionCancelled = z.infer<typeof scriptExecutionCancelledSchema>;

/**
 * The reconciler asks the provisioning queue for an operation (remediation toward a target). The queue
 * creates it through its normal creation path (planned, enqueued, hooked, retried) with the id given
 * here, so the reconciler knows it before it exists; `request_id` (the ReconciliationAction's id) is the
 * idempotency key. `create` and `update` name the identity (`user_id`): the queue maps its attributes
 * then; `delete` names the account (`target_uid`).
 */
export const operationRequestedSchema = z
  .object({
    request_id: z.uuid(),
    operation_id: z.uuid(),
    connector_id: z.uuid(),
    operation_type: z.enum(['create', 'update', 'delete']),
    user_id: z.uuid().nullable(),
    target_uid: z.string().min(1).max(500).nullable(),
    run_id: z.uuid().nullable().optional(),
    discrepancy_id: z.uuid().nullable().optional(),
    requested_by: z.string().max(255).nullable().optional(),
  })
  .refine((r) => r.operation_type === 'delete' ? r.target_uid !== null : r.user_id !== null, { message: 'create and update need user_id; delete needs target_uid', path: ['user_id'] });
export type OperationRequested = z.infer<typeof operationRequestedSchema>;

/**
 * An operation ended (`completed`, `dead_letter`), or a request could not become one (`rejected`:
 * the identity or connector it named is gone; `cancelled`: a conflict cancelled it as it was created;
 * `error_message` says why).
 */
export const operationFinishedSchema = z
  .object({ operation_id: z.uuid(), status: z.string(), error_code: z.string().optional(), error_message: z.string().nullable().optional() })
  .catchall(z.unknown());
export type OperationFinished = z.infer<typeof operationFinishedSchema>;

/** Payload schemas by event type, for consumers that validate at the edge. */
export const EVENT_DATA_SCHEMAS: Record<EventTypeName, z.ZodType> = {
  [EventType.ScriptChanged]: scriptChangedSchema,
  [EventType.ScriptExecutionRequested]: scriptExecutionRequestedSchema,
  [EventType.ScriptExecutionFinished]: scriptExecutionFinishedSchema,
  [EventType.ScriptExecutionCancelled]: scriptExecutionCancelledSchema,
  [EventType.ScriptEventDeadLettered]: z.object({ dead_letter_id: z.uuid(), script_id: z.uuid(), event_type: z.string(), error: z.string() }).catchall(z.unknown()),
  [EventType.OperationRequested]: operationRequestedSchema,
  [EventType.OperationCreated]: z.object({ operation_id: z.uuid() }).catchall(z.unknown()),
  [EventType.OperationFinished]: operationFinishedSchema,
  [EventType.OperationDeadLettered]: z.object({ operation_id: z.uuid(), error_message: z.string().nullable() }).catchall(z.unknown()),
  [EventType.ReconciliationRequested]: reconciliationRequestedSchema,
  [EventType.ReconciliationFinished]: z.object({ run_id: z.uuid(), status: z.string() }).catchall(z.unknown()),
};
