import { Module } from '@nestjs/common';
import { IdentityStoreRepository } from './identity-store.repository';
import { OperationOutcomesConsumer } from './operation-outcomes.consumer';
import { RemediationController } from './remediation.controller';
import { RemediationRepository } from './remediation.repository';
import { RemediationService } from './remediation.service';

/**
 * Remediation of discrepancies: the API (one, ignore, bulk; results and the audit log), a run's
 * remediation phase (RemediationService.remediateRun, called by the run engine), and the consumer that
 * settles results from the provisioning queue's finished operations.
 */
@Module({
  controllers: [RemediationController],
  providers: [RemediationRepository, IdentityStoreRepository, RemediationService, OperationOutcomesConsumer],
  exports: [RemediationService],
})
export class RemediationModule {}
