import { DataSourceOptions, LoggerOptions, MixedList } from 'typeorm';
import { ALL_ENTITIES } from './entities';
import { PostgresNamingStrategy } from './naming-strategy';

export const MIGRATIONS_TABLE_NAME = 'typeorm_migrations';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]*$/;

export interface DataSourceSettings {
  /** `postgres://user:password@host:5432/database` */
  url: string;
  /** Schema the tables live in; sets the connections' `search_path`. Default: the server's (`public`). */
  schema?: string;
  /** Migration classes, when this data source runs them (tests, the migrations CLI). */
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations?: MixedList<Function | string>;
  logging?: LoggerOptions;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /** `application_name` of the connections, shown in `pg_stat_activity`. */
  applicationName?: string;
}

/**
 * The one way Provisio connects to PostgreSQL. The schema comes from the migrations only
 * (`synchronize: false`); the naming strategy gives constraints PostgreSQL's own names.
 */
export function createDataSourceOptions(settings: DataSourceSettings): DataSourceOptions {
  const { url, schema, migrations = [], logging = false, poolSize = 10, applicationName } = settings;
  if (!url) throw new Error('createDataSourceOptions: url is required');
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) throw new Error(`createDataSourceOptions: schema "${schema}" must match ${SCHEMA_NAME}`);
  return {
    type: 'postgres',
    url,
    entities: ALL_ENTITIES,
    migrations,
    migrationsTableName: MIGRATIONS_TABLE_NAME,
    migrationsRun: false,
    synchronize: false,
    logging,
    namingStrategy: new PostgresNamingStrategy(),
    poolSize,
    applicationName,
    extra: schema ? { options: `-c search_path=${schema}` } : {},
  };
}
