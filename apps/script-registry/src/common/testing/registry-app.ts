/**
 * Integration-test harness of the registry (tests only; never imported by the app): boots the real app
 * on its own PostgreSQL schema and Kafka topic prefix, and mints callers (tenant + subject + permissions).
 */
import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { Permission } from '@provisio/contracts';
import { migrations } from '@provisio/migrations';
import { createIsolatedSchema, IsolatedSchema } from '@provisio/persistence/testing';
import { configureApp, loadConfig, signDevToken } from '@provisio/platform';
import { TEST_JWT_SECRET, testEnv, uniqueTopicPrefix } from '@provisio/platform/testing';
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
export class Caller {
  readonly token: string;

  constructor(
    private readonly app: INestApplication,
    readonly tenantId: string,
    readonly subject: string,
    readonly permissions: string[],
  ) {
    this.token = signDevToken(TEST_JWT_SECRET, { sub: subject, tenant_id: tenantId, permissions });
  }

  /** The same tenant and subject with other permissions. */
  with(permissions: string[]): Caller {
    return new Caller(this.app, this.tenantId, this.subject, permissions);
  }

  get(path: string, query?: Record<string, unknown> | string) {
    const req = request(this.app.getHttpServer()).get(path).set('Authorization', `Bearer ${this.token}`);
    return query === undefined ? req : req.query(query);
  }

  post(path: string, body: unknown = {}) {
    return request(this.app.getHttpServer()).post(path).set('Authorization', `Bearer ${this.token}`).send(body as object);
  }

  put(path: string, body: unknown = {}) {
    return request(this.app.getHttpServer()).put(path).set('Authorization', `Bearer ${this.token}`).send(body as object);
  }

  patch(path: string, body: unknown = {}) {
    return request(this.app.getHttpServer()).patch(path).set('Authorization', `Bearer ${this.token}`).send(body as object);
  }

  delete(path: string) {
    return request(this.app.getHttpServer()).delete(path).set('Authorization', `Bearer ${this.token}`);
  }

  /** Creates a script and returns its body; fails the test on anything but 201. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async createScript(overrides: Record<string, unknown> = {}): Promise<Record<string, any>> {
    const body = { name: `script-${randomUUID().slice(0, 8)}`, type: 'oneoff', source: 'export default async () => 1;', ...overrides };
    const response = await this.post('/scripts', body);
    if (response.status !== 201) throw new Error(`create script: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body;
  }
}
