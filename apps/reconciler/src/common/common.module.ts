import { Global, Module } from '@nestjs/common';
import { TenantDataModule } from '@provisio/persistence';
import { OutboxService } from '@provisio/platform';
import { TargetConnectors } from './target-connectors';

/**
 * What every feature folder of the reconciler shares: tenant-scoped database access and the connectors
 * of target systems (built from the provisioning queue's connector rows). Global.
 */
@Global()
@Module({
  imports: [TenantDataModule.forRoot({ outbox: OutboxService })],
  providers: [TargetConnectors],
  exports: [TargetConnectors],
})
export class CommonModule {}
