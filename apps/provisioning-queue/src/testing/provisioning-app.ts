/**
 * Integration-test harness of the provisioning queue (tests only; never imported by the app): boots the
 * real app on its own PostgreSQL schema and Kafka topic prefix, with connector credential keys generated
 * for the run, and mints callers (tenant + subject + permissions).
 */
import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { randomBytes, randomUUID } from 'node:crypto';
import { Permission } from '@provisio/contracts';
import { migrations } from '@provisio/migrations';
import { createIsolatedSchema, IsolatedSchema } from '@provisio/persistence/testing';
import { configureApp, loadConfig } from '@provisio/platform';
import { ApiCaller, testEnv, uniqueTopicPrefix } from '@provisio/platform/testing';
import { AppModule } from '../app.module';
import { appConfigSchema } from '../config';

export const ALL_PERMISSIONS: string[] = Object.values(Permission);

export interface ProvisioningTestApp {
  app: INestApplication;
  db: IsolatedSchema;
  /** Kafka topic prefix of this suite. */
  prefix: string;
  /** The CONNECTOR_CREDENTIALS_KEYS the app runs with. */
  credentialKeys: string;
  caller(options?: { tenantId?: string; subject?: string; permissions?: string[] }): Caller;
  close(): Promise<void>;
}

export const testCredentialKey = () => randomBytes(32).toString('base64');

export async function startProvisioningQueue(env: Record<string, string> = {}, existing?: { db: IsolatedSchema; prefix: string }): Promise<ProvisioningTestApp> {
  const db = existing?.db ?? (await createIsolatedSchema(migrations));
  const prefix = existing?.prefix ?? uniqueTopicPrefix();
  const credentialKeys = env.CONNECTOR_CREDENTIALS_KEYS ?? `test1:${testCredentialKey()}`;
  let app: INestApplication | undefined;
  try {
    const config = loadConfig(
      appConfigSchema,
      testEnv({
        DATABASE_SCHEMA: db.schema,
        KAFKA_TOPIC_PREFIX: prefix,
        // Each suite its own queues: another suite's workers never take this one's jobs.
        REDIS_KEY_PREFIX: `pq-${prefix.replace(/\W/g, '')}`,
        DATABASE_POOL_SIZE: '5',
        CONNECTOR_CREDENTIALS_KEYS: credentialKeys,
        CONNECTOR_CALL_TIMEOUT_MS: '10000',
        ...env,
      }),
    );
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] }).compile();
    app = moduleRef.createNestApplication({ logger: ['error', 'warn'] });
    configureApp(app, { docs: { title: 'provisioning-queue', description: 'tests' } });
    await app.init();
  } catch (error) {
    await app?.close().catch(() => undefined);
    if (!existing) await db.drop();
    throw error;
  }
  const started = app;
  return {
    app: started,
    db,
    prefix,
    credentialKeys,
    caller: ({ tenantId = randomUUID(), subject = `user-${randomUUID().slice(0, 8)}`, permissions = ALL_PERMISSIONS } = {}) => new Caller(started, tenantId, subject, permissions),
    close: async () => {
      await started.close();
      if (!existing) await db.drop();
    },
  };
}

/** Requests as one principal. */
export class Caller extends ApiCaller {
  /** Creates an identity; fails the test on anything but 201. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async createIdentity(overrides: Record<string, unknown> = {}): Promise<Record<string, any>> {
    const response = await this.post('/identities', { username: `user-${randomUUID().slice(0, 8)}`, ...overrides });
    if (response.status !== 201) throw new Error(`create identity: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body;
  }

  /** Creates a connector; fails the test on anything but 201. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async createConnector(body: Record<string, unknown>): Promise<Record<string, any>> {
    const response = await this.post('/connectors', { name: `connector-${randomUUID().slice(0, 8)}`, ...body });
    if (response.status !== 201) throw new Error(`create connector: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body;
  }
}
