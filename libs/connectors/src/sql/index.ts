/** The SQL connector type: registered with the connector factory when the lib loads. */
import { registerConnectorType } from '../connector-types';
import { sqlConfigSchema, sqlCredentialsSchema } from './sql-config';
import { SqlConnector } from './sql-connector';

export { SqlConnector } from './sql-connector';
export { sqlConfigSchema, sqlCredentialsSchema, type SqlConfig, type SqlCredentials, type SqlTableMapping } from './sql-config';

registerConnectorType({
  type: 'sql',
  configSchema: sqlConfigSchema,
  credentialsSchema: sqlCredentialsSchema,
  create: (config, credentials) => new SqlConnector(config, credentials),
});
