import { DynamicModule, Global, Module, Type } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { TenantDatabase } from './tenant-database';
import type { TenantOutbox } from './tenant-scope';

export interface TenantDataOptions {
  /** The outbox the transactions publish through: `OutboxService` of `@provisio/platform`. */
  outbox: Type<TenantOutbox>;
}

/**
 * Provides `TenantDatabase` to every module of an app (global), over the app's TypeORM `DataSource`
 * (PlatformModule's `database: true`). The outbox is passed in because the platform imports this lib.
 */
@Global()
@Module({})
export class TenantDataModule {
  static forRoot(options: TenantDataOptions): DynamicModule {
    return {
      module: TenantDataModule,
      providers: [{ provide: TenantDatabase, inject: [DataSource, options.outbox], useFactory: (dataSource: DataSource, outbox: TenantOutbox) => new TenantDatabase(dataSource, outbox) }],
      exports: [TenantDatabase],
    };
  }
}
