import { z } from 'zod';
import { authEnv, databaseEnv, httpEnv, kafkaEnv, KEY_ID, outboxEnv, parseKeyRing, redisEnv, refineAuth, serviceEnv } from '@provisio/platform';

export const CREDENTIAL_KEY_VARIABLES = { ring: 'CONNECTOR_CREDENTIALS_KEYS', current: 'CONNECTOR_CREDENTIALS_KEY_ID' };

/** Every variable reconciler reads; validated once at start-up (see README, "Configuration"). */
export const appConfigSchema = refineAuth(
  z.object({
    ...serviceEnv,
    ...httpEnv(3005),
    ...databaseEnv,
    ...redisEnv,
    ...kafkaEnv,
    ...outboxEnv,
    ...authEnv,
    /** The provisioning queue's connector credential keys (the reconciler only decrypts, to read targets). */
    CONNECTOR_CREDENTIALS_KEYS: z.string().optional(),
    CONNECTOR_CREDENTIALS_KEY_ID: z.string().regex(KEY_ID, 'must be 1-32 letters, digits, _ or -').optional(),
    /** Accounts asked of the target per page (the connector may cap it); one page is what a resume reads again at most. */
    RECONCILIATION_PAGE_SIZE: z.coerce.number().int().min(1).max(50_000).default(5_000),
    /** Identities whose expected attributes are computed and COPYed per batch. */
    RECONCILIATION_IDENTITY_BATCH: z.coerce.number().int().min(100).max(100_000).default(10_000),
    /** Identities one sandbox run of a connector's mapping script maps (its answer must fit the script's max_output_size_bytes). */
    RECONCILIATION_MAPPING_SCRIPT_BATCH: z.coerce.number().int().min(1).max(10_000).default(1_000),
    /** Sandbox worker threads of this process for mapping scripts; a run maps this many batches at once. */
    RECONCILIATION_SANDBOX_POOL_SIZE: z.coerce.number().int().min(1).max(16).default(2),
    /** Read segments (and as many identity ranges) a full run is cut into, so several replicas, or one replica's concurrency, work it at once. */
    RECONCILIATION_SEGMENTS: z.coerce.number().int().min(1).max(64).default(4),
    /** Read segments one process reads at once (the rest of its concurrency stages identity ranges meanwhile). */
    RECONCILIATION_READERS: z.coerce.number().int().min(1).max(64).default(1),
    /** Runs, or segments of runs, one process works at once. */
    RECONCILIATION_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
    /** How often the sweep looks for runs without a live job (queued ones Redis lost, running ones whose worker died). */
    RECONCILIATION_SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(10_000),
    /** A running run whose worker has not beaten for this long is taken back and resumed from its checkpoint. */
    RECONCILIATION_ABANDONED_AFTER_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(60_000),
  }),
).superRefine((env, ctx) => {
  if (env.CONNECTOR_CREDENTIALS_KEYS) {
    try {
      parseKeyRing(env.CONNECTOR_CREDENTIALS_KEYS, env.CONNECTOR_CREDENTIALS_KEY_ID, CREDENTIAL_KEY_VARIABLES);
    } catch (error) {
      ctx.addIssue({ code: 'custom', path: ['CONNECTOR_CREDENTIALS_KEYS'], message: (error as Error).message });
    }
  }
});
export type AppConfig = z.infer<typeof appConfigSchema>;
