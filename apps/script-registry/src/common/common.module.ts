import { Global, Module } from '@nestjs/common';
import { ExtendedQueryParser } from './query-parser';
import { TenantDatabase } from './tenant-database';

/**
 * What every feature folder of the registry shares: tenant-scoped database access (`TenantDatabase`) and
 * the app's query-string parsing. Global, so a feature module only imports its own dependencies.
 */
@Global()
@Module({
  providers: [TenantDatabase, ExtendedQueryParser],
  exports: [TenantDatabase],
})
export class CommonModule {}
