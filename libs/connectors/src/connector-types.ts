/**
 * The connector types Provisio knows, each with the zod schemas of its config and of its credentials,
 * and the factory that builds a connector from them. Each implementation registers itself
 * (`registerConnectorType` in its own folder's index, imported by this lib's index), so the connector API
 * validates a connector's config from `connectorConfigSchemas[type]` without knowing any type's fields.
 *
 * Config and credentials are separate on purpose: the config is stored and returned as it is; the
 * credentials (a token, a bind password, a database password) are encrypted at rest by the API and never
 * returned, so nothing secret may live in a config.
 */
import { z } from 'zod';
import { Connector, ConnectorLimits, ConnectorType, DEFAULT_CONNECTOR_LIMITS } from './connector';
import { ConnectorError, ConnectorErrorCode } from './connector-errors';

/** ConnectorLimits as they appear in every type's config: all optional, defaults from DEFAULT_CONNECTOR_LIMITS. */
export const connectorLimitsSchema = z
  .object({
    maxConnections: z.number().int().min(1).max(1000).default(DEFAULT_CONNECTOR_LIMITS.maxConnections),
    maxConcurrency: z.number().int().min(1).max(1000).default(DEFAULT_CONNECTOR_LIMITS.maxConcurrency),
    writesPerMinute: z.number().positive().max(10_000_000).optional(),
    requestsPerSecond: z.number().positive().max(1_000_000).optional(),
    timeoutMs: z.number().int().min(100).max(600_000).default(DEFAULT_CONNECTOR_LIMITS.timeoutMs),
  })
  .strict() satisfies z.ZodType<ConnectorLimits, unknown>;

export interface ConnectorTypeDefinition<Config = unknown, Credentials = unknown> {
  type: ConnectorType;
  /** Validates (and fills defaults of) a connector's config. Strict: an unknown field is an error. */
  configSchema: z.ZodType<Config>;
  credentialsSchema: z.ZodType<Credentials>;
  create(config: Config, credentials: Credentials): Connector;
}

const definitions = new Map<ConnectorType, ConnectorTypeDefinition>();

/** The config and credentials schemas of every registered type, keyed by type. */
export const connectorConfigSchemas: Partial<Record<ConnectorType, { config: z.ZodType; credentials: z.ZodType }>> = {};

export function registerConnectorType<Config, Credentials>(definition: ConnectorTypeDefinition<Config, Credentials>): void {
  if (definitions.has(definition.type)) throw new Error(`connector type '${definition.type}' is registered twice`);
  definitions.set(definition.type, definition as ConnectorTypeDefinition);
  connectorConfigSchemas[definition.type] = { config: definition.configSchema, credentials: definition.credentialsSchema };
}

export function registeredConnectorTypes(): ConnectorType[] {
  return [...definitions.keys()];
}

/** One line per problem, each naming the field: `limits.timeoutMs: Too small: expected number to be >=100`. */
export function describeZodError(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`).join('; ');
}

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; message: string };

/** Validates a config of `type` without building a connector (the connector API's 400 says `message`). */
export function validateConnectorConfig(type: ConnectorType, config: unknown): ValidationResult<unknown> {
  return validate(definitionOf(type).configSchema, config, 'config');
}

export function validateConnectorCredentials(type: ConnectorType, credentials: unknown): ValidationResult<unknown> {
  return validate(definitionOf(type).credentialsSchema, credentials, 'credentials');
}

/**
 * Builds a connector of `type`. Throws ConnectorError InvalidConfig when the type is unknown or the config
 * or credentials do not validate (the message names each bad field, never a credential's value).
 */
export function createConnector(type: ConnectorType, config: unknown, credentials: unknown): Connector {
  const definition = definitionOf(type);
  const parsedConfig = validate(definition.configSchema, config, 'config');
  if (!parsedConfig.ok) throw new ConnectorError(ConnectorErrorCode.InvalidConfig, parsedConfig.message);
  const parsedCredentials = validate(definition.credentialsSchema, credentials, 'credentials');
  if (!parsedCredentials.ok) throw new ConnectorError(ConnectorErrorCode.InvalidConfig, parsedCredentials.message);
  return definition.create(parsedConfig.value, parsedCredentials.value);
}

function definitionOf(type: ConnectorType): ConnectorTypeDefinition {
  const definition = definitions.get(type);
  if (!definition) {
    const known = registeredConnectorTypes().join(', ') || 'none';
    throw new ConnectorError(ConnectorErrorCode.InvalidConfig, `unknown connector type '${String(type)}' (registered: ${known})`);
  }
  return definition;
}

function validate<T>(schema: z.ZodType<T>, value: unknown, what: string): ValidationResult<T> {
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  // Credentials' issues carry no input values: zod 4 messages name the expectation, not the value.
  return { ok: false, message: `invalid ${what}: ${describeZodError(result.error)}` };
}
