import { z } from 'zod';
import { authEnv, databaseEnv, httpEnv, kafkaEnv, outboxEnv, redisEnv, refineAuth, serviceEnv } from '@provisio/platform';
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
