import { z } from 'zod';
import { authEnv, databaseEnv, httpEnv, kafkaEnv, outboxEnv, refineAuth, serviceEnv } from '@provisio/platform';

/** Every variable scheduler reads; validated once at start-up (see README, "Configuration"). */
export const appConfigSchema = refineAuth(
  z.object({
    ...serviceEnv,
    ...httpEnv(3003),
    ...databaseEnv,
    ...kafkaEnv,
    ...outboxEnv,
    ...authEnv,
  }),
);
export type AppConfig = z.infer<typeof appConfigSchema>;
