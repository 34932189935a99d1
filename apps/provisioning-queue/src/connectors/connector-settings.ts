import type { z } from 'zod';
import {
  AttributeMapping,
  attributeMappingSchema,
  ConnectorType,
  connectorConfigSchemas,
  ProvisioningPolicy,
  provisioningPolicySchema,
  registeredConnectorTypes,
} from '@provisio/connectors';
import { ValidationError } from '@provisio/platform';

/**
 * Validation of what a connector is saved with, each failure a 400 naming the field inside the body
 * (`config.baseUrl`, `attribute_mapping.2.template`, `provisioning_policy.filter.value`). The schemas are
 * libs/connectors' own: the type's config and credentials schemas, the mapping's and the policy's.
 * Credentials' messages name the field and the expectation, never the value given.
 */
function check<T>(schema: z.ZodType<T>, value: unknown, field: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = [field, ...issue.path.map(String)].join('.');
  throw new ValidationError(`${path}: ${issue.message}`, path);
}

function schemasOf(type: ConnectorType): { config: z.ZodType; credentials: z.ZodType } {
  const schemas = connectorConfigSchemas[type];
  if (!schemas) throw new ValidationError(`connector type ${type} is not available in this build (available: ${registeredConnectorTypes().join(', ') || 'none'})`, 'type');
  return schemas;
}

/** Checks `config` against the type's schema; the config is stored as given (defaults are filled when a connector is built). */
export function checkConfig(type: ConnectorType, config: unknown): void {
  check(schemasOf(type).config, config, 'config');
}

/** Checks credentials against the type's schema; `undefined`: none given, which the type must accept as `{}`. */
export function checkCredentials(type: ConnectorType, credentials: unknown): void {
  const schema = schemasOf(type).credentials;
  if (credentials !== undefined) {
    check(schema, credentials, 'credentials');
    return;
  }
  if (!schema.safeParse({}).success) throw new ValidationError(`credentials are required for a ${type} connector`, 'credentials');
}

export function parseMapping(mapping: unknown): AttributeMapping {
  return check(attributeMappingSchema, mapping, 'attribute_mapping');
}

export function parsePolicy(policy: unknown): ProvisioningPolicy {
  return check(provisioningPolicySchema, policy, 'provisioning_policy');
}
