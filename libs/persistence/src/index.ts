/** TypeORM entities of every Provisio table, the seeds' enums, and the data source options. */
import 'reflect-metadata';

export * from './entities';
export * from './enums';
export * from './data-source';
export * from './naming-strategy';
export * from './tenancy';
