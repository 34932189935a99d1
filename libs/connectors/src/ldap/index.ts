/** The LDAP connector type: registered with the connector factory when the lib loads. */
import { registerConnectorType } from '../connector-types';
import { ldapConfigSchema, ldapCredentialsSchema } from './ldap-config';
import { LdapConnector } from './ldap-connector';

export { LdapConnector } from './ldap-connector';
export { ldapConfigSchema, ldapCredentialsSchema, type LdapConfig, type LdapCredentials } from './ldap-config';
export { escapeDnValue, normalizeDn } from './ldap-dn';

registerConnectorType({
  type: 'ldap',
  configSchema: ldapConfigSchema,
  credentialsSchema: ldapCredentialsSchema,
  create: (config, credentials) => new LdapConnector(config, credentials),
});
