/**
 * Integration-test harness of the registry (tests only; never imported by the app): boots the real app
 * on its own PostgreSQL schema and Kafka topic prefix, and mints callers (tenant + subject + permissions).
 */
import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { randomBytes, randomUUID } from 'node:crypto';
import { Permission } from '@provisio/contracts';
import { migrations } from '@provisio/migrations';
import { createIsolatedSchema, IsolatedSchema } from '@provisio/persistence/testing';
import { configureApp, loadConfig } from '@provisio/platform';
import { ApiCaller, testEnv, uniqueTopicPrefix } from '@provisio/platform/testing';
import { AppModule } from '../../app.module';
import { appConfigSchema } from '../../config';

export const ALL_PERMISSIONS: string[] = Object.values(Permission);

export interface RegistryTestApp {
  app: INestApplication;
  db: IsolatedSchema;
  /** Kafka topic prefix of this suite. */
  prefix: string;
  /** A caller in `tenantId` (a new tenant when omitted) holding `permissions` (all by default). */
  caller(options?: { tenantId?: string; subject?: string; permissions?: string[] }): Caller;
  close(): Promise<void>;
}

/** `env` adds to or overrides the test environment (a fresh SCRIPT_SECRETS_KEYS ring by default). */
export async function startRegistry(env: Record<string, string> = {}): Promise<RegistryTestApp> {
  const db = await createIsolatedSchema(migrations);
  const prefix = uniqueTopicPrefix();
  let app: INestApplication | undefined;
  try {
    const config = loadConfig(appConfigSchema, testEnv({ DATABASE_SCHEMA: db.schema, KAFKA_TOPIC_PREFIX: prefix, DATABASE_POOL_SIZE: '5', SCRIPT_SECRETS_KEYS: `test:${randomBytes(32).toString('base64')}`, ...env }));
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] }).compile();
    app = moduleRef.createNestApplication({ logger: ['error', 'warn'] });
    configureApp(app, { docs: { title: 'script-registry', description: 'tests' } });
    await app.init();
  } catch (error) {
    await app?.close().catch(() => undefined);
    await db.drop();
    throw error;
  }
  const started = app;
  return {
    app: started,
    db,
    prefix,
    caller: ({ tenantId = randomUUID(), subject = `user-${randomUUID().slice(0, 8)}`, permissions = ALL_PERMISSIONS } = {}) =>
      new Caller(started, tenantId, subject, permissions),
    close: async () => {
      await started.close();
      await db.drop();
    },
  };
}

/** Requests as one principal. */
export class Caller extends ApiCaller {
  /** Creates a script and returns its body; fails the test on anything but 201. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async createScript(overrides: Record<string, unknown> = {}): Promise<Record<string, any>> {
    const body = { name: `script-${randomUUID().slice(0, 8)}`, type: 'oneoff', source: 'export default async () => 1;', ...overrides };
    const response = await this.post('/scripts', body);
    if (response.status !== 201) throw new Error(`create script: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body;
  }
}
