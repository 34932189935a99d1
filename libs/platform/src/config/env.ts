import { z } from 'zod';

/**
 * Environment schemas, one piece per concern. Each app composes the pieces it uses into its own schema
 * (`apps/<app>/src/config.ts`), so its config holds only what it reads.
 */
const port = z.coerce.number().int().min(1).max(65535);
const positiveInt = z.coerce.number().int().positive();
/** A yes/no variable: `true`/`1` or `false`/`0`. */
export const booleanEnv = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const bool = booleanEnv;

const postgresUrl = z
  .string()
  .url()
  .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// URL');
const redisUrl = z
  .string()
  .url()
  .refine((v) => /^rediss?:\/\//.test(v), 'must be a redis:// or rediss:// URL');
const brokerList = z
  .string()
  .min(1)
  .transform((v) => v.split(',').map((b) => b.trim()).filter(Boolean))
  .refine((list) => list.length > 0 && list.every((b) => /^[^\s:]+:\d+$/.test(b)), 'must be a comma-separated list of host:port');

export const serviceEnv = {
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  HOST: z.string().default('0.0.0.0'),
  /** How long SIGTERM waits for in-flight work before the process exits anyway. */
  SHUTDOWN_TIMEOUT_MS: positiveInt.default(25_000),
};

export const databaseEnv = {
  DATABASE_URL: postgresUrl,
  /** Schema the service's tables live in (tests give each suite its own). */
  DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]*$/).default('public'),
  DATABASE_POOL_SIZE: positiveInt.default(10),
};

export const redisEnv = {
  REDIS_URL: redisUrl,
  /** Prefix of every Redis key and BullMQ queue, so environments can share a server. */
  REDIS_KEY_PREFIX: z.string().default('provisio'),
};

export const kafkaEnv = {
  KAFKA_BROKERS: brokerList,
  KAFKA_CLIENT_ID: z.string().min(1).optional(),
  /** Prefix of every topic name, so environments can share a cluster (for example `staging.`). */
  KAFKA_TOPIC_PREFIX: z.string().regex(/^[a-zA-Z0-9._-]*$/).default(''),
  KAFKA_SSL: bool.default(false),
  KAFKA_SASL_MECHANISM: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
  KAFKA_SASL_USERNAME: z.string().optional(),
  KAFKA_SASL_PASSWORD: z.string().optional(),
  /**
   * Partitions one consumer instance works on at once. As many as the busiest topics have (12), so the
   * groups of every partition of a fetch are applied in one joint transaction (GroupCommit).
   */
  KAFKA_PARTITIONS_CONSUMED_CONCURRENTLY: positiveInt.default(12),
};

export const outboxEnv = {
  OUTBOX_POLL_INTERVAL_MS: positiveInt.default(100),
  OUTBOX_BATCH_SIZE: positiveInt.default(2000),
  /** A claimed outbox row whose relay died is taken over after this lease. */
  OUTBOX_LEASE_MS: positiveInt.default(30_000),
};

export const authEnv = {
  /** HS256 secret for development tokens (at least 32 characters). Either this or AUTH_JWKS_URL. */
  AUTH_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** JWKS endpoint of the identity provider (production: RS256/ES256 keys). */
  AUTH_JWKS_URL: z.string().url().optional(),
  /** The `iss` every token must carry; required with AUTH_JWKS_URL. */
  AUTH_JWT_ISSUER: z.string().min(1).optional(),
  /** An `aud` every token must carry (this deployment of Provisio); required with AUTH_JWKS_URL. */
  AUTH_JWT_AUDIENCE: z.string().min(1).optional(),
};

export const httpEnv = (defaultPort: number) => ({ PORT: port.default(defaultPort) });

/** Cross-field rules the pieces cannot state alone. */
export function refineAuth<T extends z.ZodObject>(schema: T) {
  return schema.superRefine((env: Record<string, unknown>, ctx) => {
    if (!env.AUTH_JWT_SECRET && !env.AUTH_JWKS_URL) {
      ctx.addIssue({ code: 'custom', path: ['AUTH_JWT_SECRET'], message: 'set AUTH_JWT_SECRET (HS256) or AUTH_JWKS_URL' });
    }
    // A JWKS signs tokens for every application of the identity provider: only this issuer and audience are ours.
    for (const name of ['AUTH_JWT_ISSUER', 'AUTH_JWT_AUDIENCE'] as const) {
      if (env.AUTH_JWKS_URL && !env[name]) ctx.addIssue({ code: 'custom', path: [name], message: 'is required with AUTH_JWKS_URL' });
    }
    if (env.KAFKA_SASL_MECHANISM && (!env.KAFKA_SASL_USERNAME || !env.KAFKA_SASL_PASSWORD)) {
      ctx.addIssue({ code: 'custom', path: ['KAFKA_SASL_USERNAME'], message: 'KAFKA_SASL_MECHANISM needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD' });
    }
  });
}
