// The SCIM 2.0 connector type: its config and credentials schemas and its factory.
import { registerConnectorType } from '../connector-types';
import { ScimConnector } from './scim-connector';
import { ScimConfig, scimConfigSchema, ScimCredentials, scimCredentialsSchema } from './scim-config';

export { ScimConnector } from './scim-connector';
export * from './scim-config';
export { toScimFilter } from './scim-filter';
export { patchOperations } from './scim-patch';

registerConnectorType<ScimConfig, ScimCredentials>({
  type: 'scim',
  configSchema: scimConfigSchema,
  credentialsSchema: scimCredentialsSchema,
  create: (config, credentials) => new ScimConnector(config, credentials),
});
