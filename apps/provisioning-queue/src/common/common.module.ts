import { Global, Module } from '@nestjs/common';
import { TenantDataModule } from '@provisio/persistence';
import { OutboxService } from '@provisio/platform';

/**
 * What every feature folder of the provisioning queue shares: tenant-scoped database access
 * (`TenantDatabase` of `@provisio/persistence`). Global, so a feature module imports only its own
 * dependencies.
 */
@Global()
@Module({
  imports: [TenantDataModule.forRoot({ outbox: OutboxService })],
})
export class CommonModule {}
