import { Module } from '@nestjs/common';
import { ConnectorsModule } from '../connectors/connectors.module';
import { HookRunner } from '../hooks/hook-runner.service';
import { IdentitiesModule } from '../identities/identities.module';
import { ConflictsService } from './conflicts/conflicts.service';
import { OperationPlanningModule } from './operation-planning.module';
import { OperationsController } from './operations.controller';
import { OperationsService } from './operations.service';
import { Circuits } from './queue/circuits';
import { ConnectorPool } from './queue/connector-pool';
import { OperationEventsConsumer } from './queue/operation-events.consumer';
import { OperationQueue } from './queue/operation-queue.service';
import { OperationRunner } from './queue/operation-runner.service';
import { QueueMetrics } from './queue/queue-metrics';
import { RemediationRequestsConsumer } from './remediation-requests.consumer';

/** Provisioning operations: the queue that runs them (with their hooks) against the connectors, the circuit, and their API. */
@Module({
  imports: [OperationPlanningModule, ConnectorsModule, IdentitiesModule],
  controllers: [OperationsController],
  providers: [HookRunner, Circuits, ConnectorPool, OperationRunner, OperationQueue, OperationEventsConsumer, RemediationRequestsConsumer, QueueMetrics, OperationsService, ConflictsService],
  exports: [OperationQueue],
})
export class OperationsModule {}
