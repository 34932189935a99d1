/**
 * TypeORM entities of every Provisio table (the one declaration of each row: repositories type their
 * results as `Pick`s of them), the seeds' enums, the data source options, the one tenant-scoped data
 * access layer every app uses (`TenantDatabase`, see `tenant-data/`), and the tenants' limit caps.
 */
import 'reflect-metadata';

export * from './entities';
export * from './enums';
export * from './data-source';
export * from './naming-strategy';
export * from './tenancy';
export * from './tenant-data';
export * from './tenant-limits';
