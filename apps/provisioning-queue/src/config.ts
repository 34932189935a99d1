import { z } from 'zod';
import { authEnv, booleanEnv, databaseEnv, httpEnv, kafkaEnv, outboxEnv, redisEnv, refineAuth, serviceEnv } from '@provisio/platform';
import { KEY_ID, parseCredentialKeys } from './connectors/credentials/credential-keys';

/** Every variable provisioning-queue reads; validated once at start-up (see README, "Configuration"). */
export const appConfigSchema = refineAuth(
  z.object({
    ...serviceEnv,
    ...httpEnv(3004),
    ...databaseEnv,
    ...redisEnv,
    ...kafkaEnv,
    ...outboxEnv,
    ...authEnv,
    /**
     * AES-256-GCM keys of connector credentials: `<id>:<base64 of 32 bytes>`, comma-separated (several
     * while a key rotates). Without it the service runs, but refuses to store or use connector credentials.
     */
    CONNECTOR_CREDENTIALS_KEYS: z.string().optional(),
    /** The key new ciphertexts use (default: the first of CONNECTOR_CREDENTIALS_KEYS). */
    CONNECTOR_CREDENTIALS_KEY_ID: z.string().regex(KEY_ID, 'must be 1-32 letters, digits, _ or -').optional(),
    /** How long `POST /connectors/{id}/test` and `GET /connectors/{id}/schema` wait for the target. */
    CONNECTOR_CALL_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
    /** Retries of an operation's transient failures before it is dead-lettered (seed 002's default max_retries). */
    PROVISIONING_MAX_RETRIES: z.coerce.number().int().min(0).max(100).default(3),
    /** Operations one process runs at once (each connector's own limits apply within it). */
    PROVISIONING_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(64),
    /**
     * Most operations one statement claims, and most successes one transaction records (the batch grows
     * with the load: an idle queue claims and records one at once, a busy one many per statement).
     */
    PROVISIONING_BATCH_SIZE: z.coerce.number().int().min(1).max(1000).default(100),
    /** Claim (and record) statements in flight at once; what arrives meanwhile waits for the next batch. */
    PROVISIONING_BATCHES_IN_FLIGHT: z.coerce.number().int().min(1).max(32).default(2),
    /** First retry delay; each further one doubles, with full jitter, up to PROVISIONING_RETRY_MAX_MS. */
    PROVISIONING_RETRY_BASE_MS: z.coerce.number().int().min(1).max(3_600_000).default(1_000),
    PROVISIONING_RETRY_MAX_MS: z.coerce.number().int().min(1).max(86_400_000).default(300_000),
    /** How often the sweep re-enqueues operations whose job Redis lost, and takes back abandoned attempts. */
    PROVISIONING_SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(10_000),
    /** An attempt running longer than this is taken to be abandoned by a dead process (keep it above connector timeouts). */
    PROVISIONING_ABANDONED_AFTER_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(120_000),
    /** Sandbox workers running hook scripts in this process (default: the sandbox's own, one per core). */
    HOOK_SANDBOX_POOL_SIZE: z.coerce.number().int().min(1).max(64).optional(),
    /**
     * Announce every hook run on `provisio.script-executions` (`provisio.script.execution.finished`), as the
     * execution worker does its runs. Off by default: an operation's `provisio.operation.finished` stands for
     * its hook chain, and every run is a `script_executions` row either way.
     */
    HOOK_RUN_EVENTS: booleanEnv.default(false),
    /** How often an open circuit's target is probed (testConnection). */
    PROVISIONING_PROBE_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(5_000),
  }),
).superRefine((env, ctx) => {
  if (env.CONNECTOR_CREDENTIALS_KEYS) {
    try {
      parseCredentialKeys(env.CONNECTOR_CREDENTIALS_KEYS, env.CONNECTOR_CREDENTIALS_KEY_ID);
    } catch (error) {
      const message = (error as Error).message;
      ctx.addIssue({ code: 'custom', path: [message.startsWith('CONNECTOR_CREDENTIALS_KEY_ID') ? 'CONNECTOR_CREDENTIALS_KEY_ID' : 'CONNECTOR_CREDENTIALS_KEYS'], message });
    }
  } else if (env.CONNECTOR_CREDENTIALS_KEY_ID) {
    ctx.addIssue({ code: 'custom', path: ['CONNECTOR_CREDENTIALS_KEY_ID'], message: 'needs CONNECTOR_CREDENTIALS_KEYS' });
  }
});
export type AppConfig = z.infer<typeof appConfigSchema>;
