import { z } from 'zod';
import { authEnv, databaseEnv, httpEnv, kafkaEnv, outboxEnv, redisEnv, refineAuth, scriptSecretsEnv, serviceEnv } from '@provisio/platform';

const positiveInt = z.coerce.number().int().positive();

/** What only the worker reads: the sandbox pool, job concurrency, retry backoff, the recovery sweep. */
const executionEnv = {
  /** Sandbox worker threads; 0 = one per CPU. */
  SANDBOX_POOL_SIZE: z.coerce.number().int().min(0).default(0),
  /** Executions this process runs at once (BullMQ worker concurrency). */
  EXECUTION_CONCURRENCY: positiveInt.default(16),
  /** First retry delay of a failed event-triggered run; doubles per attempt (3 attempts in all). */
  SCRIPT_EVENT_RETRY_BASE_DELAY_MS: positiveInt.default(2_000),
  /** How often pending executions whose job was never enqueued (a crash after commit) are re-enqueued. */
  EXECUTION_SWEEP_INTERVAL_MS: positiveInt.default(10_000),
  /** How often the sweep re-queues one abandoned execution before failing it (a run that kills its worker). */
  EXECUTION_MAX_RECOVERIES: z.coerce.number().int().min(0).default(3),
};

/** Every variable execution-worker reads; validated once at start-up (see README, "Configuration"). */
export const appConfigSchema = refineAuth(
  z.object({
    ...serviceEnv,
    ...httpEnv(3002),
    ...databaseEnv,
    ...redisEnv,
    ...kafkaEnv,
    ...outboxEnv,
    ...authEnv,
    ...scriptSecretsEnv,
    ...executionEnv,
  }),
);
export type AppConfig = z.infer<typeof appConfigSchema>;
