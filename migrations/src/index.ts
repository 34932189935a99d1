/**
 * Provisio's database migrations, in order. Raw SQL only (never generated from the entities): the
 * schema is the contract and `libs/persistence` entities are checked against it by
 * `migrations.int-spec.ts`. Run with `node migrations/dist/cli.js run|revert|show`.
 */
import { CreateTenancy1763900000000 } from './1763900000000-create-tenancy';
import { CreateJsRuntimeTables1763900001000 } from './1763900001000-create-js-runtime-tables';
import { CreateConnectorsAndIdentities1763900002000 } from './1763900002000-create-connectors-and-identities';
import { AddProvisioningScripts1763900003000 } from './1763900003000-add-provisioning-scripts';
import { AddScriptParametersSchedulesRetries1763900004000 } from './1763900004000-add-script-parameters-schedules-retries';
import { CreateProvisioningOperations1763900005000 } from './1763900005000-create-provisioning-operations';
import { CreateReconciliation1763900006000 } from './1763900006000-create-reconciliation';
import { CreateMessagingPlumbing1763900007000 } from './1763900007000-create-messaging-plumbing';
import { AddSystemScriptTemplates1763900009000 } from './1763900009000-add-system-script-templates';
import { TuneOutboxStorage1763900010000 } from './1763900010000-tune-outbox-storage';
import { AddScriptExecutionDailyStats1763900011000 } from './1763900011000-add-script-execution-daily-stats';
import { KeyProcessedEventsBySource1764800000000 } from './1764800000000-key-processed-events-by-source';
import { AddExecutionRecoveryAndRetrySchedule1764801000000 } from './1764801000000-add-execution-recovery-and-retry-schedule';
import { AddScheduleOwnerPermissions1764900000000 } from './1764900000000-add-schedule-owner-permissions';
import { AddConnectorMappingAndIdentitySourceOrder1765000000000 } from './1765000000000-add-connector-mapping-and-identity-source-order';
import { AddOperationScheduling1765100000000 } from './1765100000000-add-operation-scheduling';
import { AddExecutionCancellation1765200000000 } from './1765200000000-add-execution-cancellation';
import { AddReconciliationProgressAndStaging1765300000000 } from './1765300000000-add-reconciliation-progress-and-staging';
import { AddRemediationTracking1765420000000 } from './1765420000000-add-remediation-tracking';
import { AddReconciliationScheduleFiring1765430000000 } from './1765430000000-add-reconciliation-schedule-firing';
import { AddReconciliationRunSegments1765440000000 } from './1765440000000-add-reconciliation-run-segments';
import { AddReconciliationProgressMarks1765450000000 } from './1765450000000-add-reconciliation-progress-marks';
import { IndexExecutionsByCompletion1765460000000 } from './1765460000000-index-executions-by-completion';
import { IndexOpenOperationsByAccount1765470000000 } from './1765470000000-index-open-operations-by-account';

export const migrations = [
  CreateTenancy1763900000000,
  CreateJsRuntimeTables1763900001000,
  CreateConnectorsAndIdentities1763900002000,
  AddProvisioningScripts1763900003000,
  AddScriptParametersSchedulesRetries1763900004000,
  CreateProvisioningOperations1763900005000,
  CreateReconciliation1763900006000,
  CreateMessagingPlumbing1763900007000,
  AddSystemScriptTemplates1763900009000,
  TuneOutboxStorage1763900010000,
  AddScriptExecutionDailyStats1763900011000,
  KeyProcessedEventsBySource1764800000000,
  AddExecutionRecoveryAndRetrySchedule1764801000000,
  AddScheduleOwnerPermissions1764900000000,
  AddConnectorMappingAndIdentitySourceOrder1765000000000,
  AddOperationScheduling1765100000000,
  AddExecutionCancellation1765200000000,
  AddReconciliationProgressAndStaging1765300000000,
  AddRemediationTracking1765420000000,
  AddReconciliationScheduleFiring1765430000000,
  AddReconciliationRunSegments1765440000000,
  AddReconciliationProgressMarks1765450000000,
  IndexExecutionsByCompletion1765460000000,
  IndexOpenOperationsByAccount1765470000000,
];

export const MIGRATIONS_TABLE_NAME = 'typeorm_migrations';

export {
  CreateTenancy1763900000000,
  CreateJsRuntimeTables1763900001000,
  CreateConnectorsAndIdentities1763900002000,
  AddProvisioningScripts1763900003000,
  AddScriptParametersSchedulesRetries1763900004000,
  CreateProvisioningOperations1763900005000,
  CreateReconciliation1763900006000,
  CreateMessagingPlumbing1763900007000,
  AddSystemScriptTemplates1763900009000,
  TuneOutboxStorage1763900010000,
  AddScriptExecutionDailyStats1763900011000,
  KeyProcessedEventsBySource1764800000000,
  AddExecutionRecoveryAndRetrySchedule1764801000000,
  AddScheduleOwnerPermissions1764900000000,
  AddConnectorMappingAndIdentitySourceOrder1765000000000,
  AddOperationScheduling1765100000000,
  AddExecutionCancellation1765200000000,
  AddReconciliationProgressAndStaging1765300000000,
  AddRemediationTracking1765420000000,
  AddReconciliationScheduleFiring1765430000000,
  AddReconciliationRunSegments1765440000000,
  AddReconciliationProgressMarks1765450000000,
  IndexExecutionsByCompletion1765460000000,
  IndexOpenOperationsByAccount1765470000000,
};
