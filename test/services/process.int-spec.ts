import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConsumerGroup } from '@provisio/contracts';
import { migrations } from '@provisio/migrations';
import { createIsolatedSchema, IsolatedSchema } from '@provisio/persistence/testing';
import { eventually, freePort, testEnv, testKafka, uniqueTopicPrefix } from '@provisio/platform/testing';

/** The built services as real processes: start-up validation and graceful SIGTERM. */
const ROOT = join(__dirname, '..', '..');
const main = (app: string) => join(ROOT, 'apps', app, 'dist', 'main.js');

function start(app: string, env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<{ code: number | null; signal: string | null }> } {
  if (!existsSync(main(app))) throw new Error(`build first (npm test does): ${main(app)} is missing`);
  const child = spawn(process.execPath, [main(app)], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, output: () => output, exited };
}

describe('services as processes', () => {
  let db: IsolatedSchema;

  beforeAll(async () => {
    db = await createIsolatedSchema(migrations);
  });
  afterAll(async () => db?.drop());

  it.each([
    ['a missing variable', { DATABASE_URL: '' }, /DATABASE_URL: is required but not set/],
    ['a wrong variable', { KAFKA_BROKERS: 'kafka-without-port' }, /KAFKA_BROKERS: must be a comma-separated list of host:port/],
    ['no auth configured', { AUTH_JWT_SECRET: '' }, /AUTH_JWT_SECRET: set AUTH_JWT_SECRET \(HS256\) or AUTH_JWKS_URL/],
  ])('refuses to start with %s, naming it', async (_what, patch, message) => {
    const service = start('scheduler', { ...testEnv({ DATABASE_SCHEMA: db.schema }), ...patch });
    const { code } = await service.exited;
    expect(code).toBe(1);
    expect(service.output()).toMatch(message);
  });

  it('on SIGTERM turns unready, leaves its consumer group and exits 0', async () => {
    const prefix = uniqueTopicPrefix();
    const port = await freePort();
    const service = start('execution-worker', testEnv({ DATABASE_SCHEMA: db.schema, KAFKA_TOPIC_PREFIX: prefix, PORT: String(port), LOG_LEVEL: 'info' }));
    await eventually(async () => (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => null))?.ok, { what: 'worker ready', timeoutMs: 60_000 });

    const admin = testKafka().admin();
    await admin.connect();
    try {
      const group = prefix + ConsumerGroup.WorkerDomainEvents;
      await eventually(async () => (await admin.describeGroups([group])).groups[0]?.members.length === 1, { what: 'worker joined its group', timeoutMs: 30_000 });

      service.child.kill('SIGTERM');
      const { code, signal } = await service.exited;
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      // It left the group itself (no session timeout needed): the group is empty at once.
      const described = await admin.describeGroups([group]);
      expect(described.groups[0].members).toHaveLength(0);
      expect(service.output()).toContain('"level":"info"'); // JSON logs
    } finally {
      await admin.disconnect();
      if (service.child.exitCode === null) service.child.kill('SIGKILL');
    }
  });
});
