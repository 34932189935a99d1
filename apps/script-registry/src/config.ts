import { z } from 'zod';
import { authEnv, databaseEnv, httpEnv, kafkaEnv, outboxEnv, refineAuth, scriptSecretsEnv, serviceEnv } from '@provisio/platform';

/** Every variable script-registry reads; validated once at start-up (see README, "Configuration"). */
export const appConfigSchema = refineAuth(
  z.object({
    ...serviceEnv,
    ...httpEnv(3001),
    ...databaseEnv,
    ...kafkaEnv,
    ...outboxEnv,
    ...authEnv,
    ...scriptSecretsEnv,
    /** QuickJS worker threads for validation and dry runs (interactive and rare: one is usually enough). */
    REGISTRY_SANDBOX_POOL_SIZE: z.coerce.number().int().min(1).max(16).default(1),
    /** Unsaved dry runs (`POST /scripts/dry-run`) one process serves at once; more are answered 429. */
    REGISTRY_UNSAVED_DRY_RUNS: z.coerce.number().int().min(1).max(1000).default(8),
    /** Unsaved dry runs one tenant may have at once in one process; more are answered 429. */
    REGISTRY_UNSAVED_DRY_RUNS_PER_TENANT: z.coerce.number().int().min(1).max(1000).default(2),
  }),
);
export type AppConfig = z.infer<typeof appConfigSchema>;
