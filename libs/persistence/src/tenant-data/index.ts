export * from './tenant-scope';
export * from './tenant-database';
export * from './tenant-data.module';
export * from './deadlock-retry';
