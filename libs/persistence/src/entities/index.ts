/**
 * Every table of Provisio, one entity each.
 *
 * Convention (deliberate): entity property names ARE the column names, in snake_case, so a row read
 * through TypeORM serialises to the seeds' field names verbatim (`script_id`, `created_at`,
 * `failure_policy`) and API payloads need no renaming layer. Relation properties (`script`, `tenant`,
 * `creator` ...) are the only camel-free extras; their types use `Relation<T>` so that SWC's
 * decorator metadata does not touch the related class at import time (circular imports).
 *
 * The schema itself is owned by the SQL migrations in `migrations/`; `migrations.int-spec.ts` checks
 * that these entities describe it exactly (TypeORM's schema diff is empty).
 */
import { AccountLink } from './account-link.entity';
import { AuditEvent } from './audit-event.entity';
import { Connector } from './connector.entity';
import { Discrepancy } from './discrepancy.entity';
import { ExecutionAttempt } from './execution-attempt.entity';
import { HookBinding } from './hook-binding.entity';
import { Identity } from './identity.entity';
import { OperationLog } from './operation-log.entity';
import { Organization } from './organization.entity';
import { OutboxMessage } from './outbox-message.entity';
import { ProcessedEvent } from './processed-event.entity';
import { ProvisioningConflict } from './provisioning-conflict.entity';
import { ProvisioningOperation } from './provisioning-operation.entity';
import { ReconciliationAction } from './reconciliation-action.entity';
import { ReconciliationRun } from './reconciliation-run.entity';
import { ReconciliationSchedule } from './reconciliation-schedule.entity';
import { RemediationResult } from './remediation-result.entity';
import { ScriptEventDeadLetter } from './script-event-dead-letter.entity';
import { ScriptEventSubscription } from './script-event-subscription.entity';
import { ScriptExecutionDailyStats } from './script-execution-daily-stats.entity';
import { ScriptExecution } from './script-execution.entity';
import { ScriptHttpEndpoint } from './script-http-endpoint.entity';
import { ScriptParameter } from './script-parameter.entity';
import { ScriptScheduledJob } from './script-scheduled-job.entity';
import { ScriptTemplate } from './script-template.entity';
import { ScriptVersion } from './script-version.entity';
import { Script } from './script.entity';
import { Tenant } from './tenant.entity';
import { User } from './user.entity';

export * from './account-link.entity';
export * from './audit-event.entity';
export * from './connector.entity';
export * from './discrepancy.entity';
export * from './execution-attempt.entity';
export * from './hook-binding.entity';
export * from './identity.entity';
export * from './operation-log.entity';
export * from './organization.entity';
export * from './outbox-message.entity';
export * from './processed-event.entity';
export * from './provisioning-conflict.entity';
export * from './provisioning-operation.entity';
export * from './reconciliation-action.entity';
export * from './reconciliation-run.entity';
export * from './reconciliation-schedule.entity';
export * from './remediation-result.entity';
export * from './script-event-dead-letter.entity';
export * from './script-event-subscription.entity';
export * from './script-execution-daily-stats.entity';
export * from './script-execution.entity';
export * from './script-http-endpoint.entity';
export * from './script-parameter.entity';
export * from './script-scheduled-job.entity';
export * from './script-template.entity';
export * from './script-version.entity';
export * from './script.entity';
export * from './tenant.entity';
export * from './user.entity';

/** In migration order: tenancy, JS runtime, connectors and identities, seed 000/004 additions, provisioning, reconciliation, plumbing, analytics. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- what TypeORM's `entities` option takes
export const ALL_ENTITIES: Function[] = [
  Tenant,
  Organization,
  User,
  Script,
  ScriptExecution,
  ScriptVersion,
  ScriptEventSubscription,
  ScriptScheduledJob,
  ScriptHttpEndpoint,
  ScriptEventDeadLetter,
  Connector,
  Identity,
  AccountLink,
  HookBinding,
  ScriptTemplate,
  AuditEvent,
  ScriptParameter,
  ProvisioningOperation,
  ExecutionAttempt,
  OperationLog,
  ProvisioningConflict,
  ReconciliationSchedule,
  ReconciliationRun,
  Discrepancy,
  RemediationResult,
  ReconciliationAction,
  OutboxMessage,
  ProcessedEvent,
  ScriptExecutionDailyStats,
];
