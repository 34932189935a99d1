import { z } from 'zod';
import { authEnv, databaseEnv, httpEnv, kafkaEnv, outboxEnv, redisEnv, refineAuth, serviceEnv } from '@provisio/platform';

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
  }),
);
export type AppConfig = z.infer<typeof appConfigSchema>;
