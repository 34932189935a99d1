import { Global, Module } from '@nestjs/common';
import { OutboxService } from '@provisio/platform';
import { TenantDataModule } from '@provisio/persistence';
import { ExtendedQueryParser } from './query-parser';

/**
 * What every feature folder of the registry shares: tenant-scoped database access (`TenantDatabase` of
 * `@provisio/persistence`) and the app's query-string parsing. Global, so a feature module only imports
 * its own dependencies.
 */
@Global()
@Module({
  imports: [TenantDataModule.forRoot({ outbox: OutboxService })],
  providers: [ExtendedQueryParser],
})
export class CommonModule {}
