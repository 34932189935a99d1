/**
 * TypeORM entities of every Provisio table, the seeds' enums, the data source options, and the one
 * tenant-scoped data access layer every app uses (`TenantDatabase`, see `tenant-data/`).
 */
import 'reflect-metadata';

export * from './entities';
export * from './enums';
export * from './data-source';
export * from './naming-strategy';
export * from './tenancy';
export * from './tenant-data';
export * from './tenant-limits';
