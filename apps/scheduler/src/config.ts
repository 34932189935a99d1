import { z } from 'zod';
import { authEnv, databaseEnv, httpEnv, kafkaEnv, outboxEnv, refineAuth, serviceEnv } from '@provisio/platform';

const ms = z.coerce.number().int().positive();

/** The scheduler's own knobs (docs/scheduler.md explains each). */
export const schedulerEnv = {
  /** `false` serves the API and records outcomes without firing (an API-only replica, or tests). */
  SCHEDULER_FIRING_ENABLED: z
    .enum(['true', 'false', '1', '0'])
    .default('true')
    .transform((v) => v === 'true' || v === '1'),
  /** Longest sleep between two looks at the table; the loop also wakes at the next known occurrence. */
  SCHEDULER_POLL_INTERVAL_MS: ms.default(1_000),
  /** Due jobs claimed per transaction (one outbox insert and one update per batch). */
  SCHEDULER_BATCH_SIZE: z.coerce.number().int().min(1).max(5_000).default(1_000),
  /** Claim transactions a replica runs at once when many jobs are due together. */
  SCHEDULER_CLAIM_CONCURRENCY: z.coerce.number().int().min(1).max(8).default(2),
  /** An occurrence later than this is a misfire and follows the job's misfire_policy. */
  SCHEDULER_MISFIRE_THRESHOLD_MS: ms.default(60_000),
  /** Added to the script's max_execution_time_ms: how long a fired run may hold is_running. */
  SCHEDULER_RUN_GRACE_MS: ms.default(60_000),
  /** A claim transaction that takes longer is aborted by PostgreSQL, releasing its rows. */
  SCHEDULER_CLAIM_TIMEOUT_MS: ms.default(10_000),
  /**
   * How long before an occurrence its firing is prepared (claimed, written, held uncommitted until the
   * instant). 0 prepares nothing: every occurrence is claimed once due.
   */
  SCHEDULER_PREPARE_AHEAD_MS: z.coerce.number().int().min(0).max(5_000).default(1_500),
  /** Recorded in `locked_by`; defaults to host name, process id and a random suffix. */
  SCHEDULER_REPLICA_ID: z.string().min(1).max(255).optional(),
};

/** Every variable scheduler reads; validated once at start-up (see README, "Configuration"). */
export const appConfigSchema = refineAuth(
  z.object({
    ...serviceEnv,
    ...httpEnv(3003),
    ...databaseEnv,
    ...kafkaEnv,
    ...outboxEnv,
    ...authEnv,
    ...schedulerEnv,
  }),
).superRefine((env, ctx) => {
  // A prepared firing is held open until its instant: PostgreSQL must not end it for being idle first.
  if (env.SCHEDULER_PREPARE_AHEAD_MS + 1_000 > env.SCHEDULER_CLAIM_TIMEOUT_MS) {
    ctx.addIssue({ code: 'custom', path: ['SCHEDULER_PREPARE_AHEAD_MS'], message: 'must be at least 1000 ms below SCHEDULER_CLAIM_TIMEOUT_MS' });
  }
});
export type AppConfig = z.infer<typeof appConfigSchema>;
