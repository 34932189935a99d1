import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, OutboxService, ScriptSecrets } from '@provisio/platform';
import { TenantDataModule } from '@provisio/persistence';
import type { AppConfig } from '../config';
import { ExtendedQueryParser } from './query-parser';

/**
 * What every feature folder of the registry shares: tenant-scoped database access (`TenantDatabase` of
 * `@provisio/persistence`), the app's query-string parsing and the sealing of script secrets. Global, so a feature module only imports
 * its own dependencies.
 */
@Global()
@Module({
  imports: [TenantDataModule.forRoot({ outbox: OutboxService })],
  providers: [
    ExtendedQueryParser,
    // Sealing of secret parameter values (SCRIPT_SECRETS_KEYS); a malformed ring stops the boot.
    { provide: ScriptSecrets, useFactory: (config: AppConfig) => new ScriptSecrets(config), inject: [APP_CONFIG] },
  ],
  exports: [ScriptSecrets],
})
export class CommonModule {}
