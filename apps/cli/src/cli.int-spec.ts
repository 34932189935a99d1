/**
 * The real `provisio` command (a child process of the compiled CLI) against a real script registry
 * booted by the test (its own schema and topic prefix), as a hook author uses it: login, pull, edit,
 * validate, dry-run with fixtures, push, run, tail, cancel; and its exit codes.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { configureApp, loadConfig } from '@provisio/platform';
import { testEnv } from '@provisio/platform/testing';
import { AppModule as WorkerModule } from '../../execution-worker/src/app.module';
import { appConfigSchema as workerConfig } from '../../execution-worker/src/config';
import { Caller, RegistryTestApp, startRegistry } from '../../script-registry/src/common/testing/registry-app';

const CLI_DIR = join(__dirname, '..');
const BIN = join(CLI_DIR, 'bin', 'provisio.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('provisio CLI against the running registry', () => {
  let t: RegistryTestApp;
  let author: Caller;
  let url: string;
  let home: string;
  let work: string;

  const cli = (args: string[], env: Record<string, string> = {}): Promise<Run> =>
    new Promise((resolve) => {
      execFile(process.execPath, [BIN, ...args], { cwd: work, env: { PATH: process.env.PATH ?? '', PROVISIO_CONFIG_DIR: home, NO_COLOR: '1', ...env }, timeout: 30_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  beforeAll(async () => {
    // The CLI under test is the compiled one (what `provisio` runs); compile it from the current source.
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: CLI_DIR, stdio: 'ignore' });
    t = await startRegistry();
    await t.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    author = t.caller({ subject: 'hook-author' });
    home = mkdtempSync(join(tmpdir(), 'provisio-cli-home-'));
    work = mkdtempSync(join(tmpdir(), 'provisio-cli-work-'));
  });
  afterAll(async () => {
    await t?.close();
    for (const dir of [home, work]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('without login says so (exit 3); a wrong token is refused at login and nothing is stored', async () => {
    const none = await cli(['scripts', 'pull', 'out']);
    expect(none.code).toBe(3);
    expect(none.stderr).toMatch(/not logged in/);
    const bad = await cli(['login', '--url', url, '--token', 'not-a-jwt']);
    expect(bad.code).toBe(3);
    expect((await cli(['scripts', 'pull', 'out'])).code).toBe(3);
  });

  it('login stores the URL and token (mode 600); environment variables work without it', async () => {
    const login = await cli(['login', '--url', url, '--token', author.token, '--json']);
    expect(login.code).toBe(0);
    const saved = JSON.parse(login.stdout);
    expect(saved).toMatchObject({ url, config_file: join(home, 'config.json') });
    expect(JSON.parse(readFileSync(join(home, 'config.json'), 'utf8'))).toMatchObject({ url, token: author.token });
    expect((await import('node:fs')).statSync(join(home, 'config.json')).mode & 0o777).toBe(0o600);
    const viaEnv = await cli(['fixtures', '--json'], { PROVISIO_CONFIG_DIR: join(home, 'nowhere'), PROVISIO_URL: url, PROVISIO_TOKEN: author.token });
    expect(viaEnv.code).toBe(0);
  });

  it('pull, edit, validate, dry-run with fixtures, push (a version only when the source changed)', async () => {
    const hook = await author.createScript({
      name: 'Account mapping',
      type: 'embedded',
      source: 'export default async (ctx) => ({ attributes: { uid: ctx.identity.username } });',
      tags: ['ldap'],
    });
    const welcome = await author.createScript({ name: 'Welcome mail', type: 'event', event_types: ['user.created'], source: 'export default async (ctx) => ({ hello: ctx.event.data.user_id, from: ctx.params.sender });' });
    await author.put(`/scripts/${welcome.id}/parameters`, { parameters: [{ name: 'smtp_password', type: 'password', default_value: 's3cret' }, { name: 'sender', type: 'email', default_value: 'it@example.com' }] }).expect(200);

    const pulled = await cli(['scripts', 'pull', 'scripts']);
    expect(pulled.code).toBe(0);
    expect(pulled.stdout).toContain('pulled 2 script(s)');
    const manifest = JSON.parse(readFileSync(join(work, 'scripts', 'provisio.json'), 'utf8'));
    const entry = manifest.scripts.find((s: { name: string }) => s.name === 'Welcome mail');
    expect(entry).toMatchObject({ id: welcome.id, file: 'welcome-mail.js', type: 'event', event_types: ['user.created'] });
    // A secret default never leaves the registry.
    expect(entry.parameters).toEqual([
      { name: 'smtp_password', type: 'password', default_value: '********', display_order: 0 },
      { name: 'sender', type: 'email', default_value: 'it@example.com', display_order: 1 },
    ]);
    expect(readFileSync(join(work, 'scripts', 'account-mapping.js'), 'utf8')).toContain('ctx.identity.username');

    // Edit the hook; a syntax error is reported with its line (exit 1), the fixed file is valid.
    const file = join(work, 'scripts', 'account-mapping.js');
    writeFileSync(file, 'export default async (ctx) => {\n  const uid = helpers.username({ first: ctx.identity.first_name, last: ctx.identity.last_name, format: "f.last" })\n  return { attributes: { uid, mail: helpers.email(uid, ctx.connector.settings.mail_domain) } ;\n};\n');
    const broken = await cli(['validate', 'scripts/account-mapping.js']);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/scripts\/account-mapping\.js:3:\d+: error/);
    writeFileSync(file, 'export default async (ctx) => {\n  const uid = helpers.username({ first: ctx.identity.first_name, last: ctx.identity.last_name, format: "f.last" });\n  console.info("mapping", ctx.identity.employee_id, "->", uid);\n  return { attributes: { uid, mail: helpers.email(uid, ctx.connector.settings.mail_domain) } };\n};\n');
    expect((await cli(['validate', 'scripts/account-mapping.js'])).code).toBe(0);

    const dry = await cli(['dry-run', 'scripts/account-mapping.js', '--fixture', 'hook.create', '--json']);
    expect(dry.code).toBe(0);
    const result = JSON.parse(dry.stdout);
    expect(result).toMatchObject({ success: true, status: 'completed' });
    expect(JSON.parse(result.output)).toEqual({ attributes: { uid: expect.stringMatching(/^j\.m/), mail: expect.stringMatching(/@corp\.example$/) } });
    const human = await cli(['dry-run', 'scripts/welcome-mail.js', '--fixture', 'user.created']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/completed in \d+ ms/);
    expect(human.stdout).toContain('"hello": "u-1029"');
    // ctx.params as the worker gives it: the defaults of the manifest beside the file.
    expect(human.stdout).toContain('"from": "it@example.com"');
    // Your own context; a run that throws exits 1.
    writeFileSync(join(work, 'ctx.json'), JSON.stringify({ identity: {}, connector: { settings: {} } }));
    const failing = await cli(['dry-run', 'scripts/account-mapping.js', '--context', 'ctx.json']);
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(/failed/);
    expect((await cli(['dry-run', 'scripts/account-mapping.js', '--fixture', 'user.exploded'])).code).toBe(2);

    // Push: the hook's source changed (diff, version 2); the event script did not (no version).
    const pushed = await cli(['scripts', 'push', 'scripts', '-m', 'f.last usernames']);
    expect(pushed.code).toBe(0);
    expect(pushed.stdout).toContain('+  console.info("mapping"');
    expect(pushed.stdout).toMatch(/updated Account mapping \(version 2\)/);
    expect(pushed.stdout).toMatch(/unchanged Welcome mail/);
    const versions = await author.get(`/scripts/${hook.id}/versions`).expect(200);
    expect(versions.body.total).toBe(2);
    expect((await author.get(`/scripts/${welcome.id}/versions`).expect(200)).body.total).toBe(1);
    // The kept secret is still the stored one.
    const [secret] = await t.db.dataSource.query(`SELECT default_value::text AS v FROM script_parameters WHERE script_id = $1 AND name = 'smtp_password'`, [welcome.id]);
    expect(secret.v).toMatch(/\$sealed/);
    const again = await cli(['scripts', 'push', 'scripts', '--json']);
    expect(JSON.parse(again.stdout).map((c: { action: string }) => c.action)).toEqual(['unchanged', 'unchanged']);
    expect((await author.get(`/scripts/${hook.id}/versions`).expect(200)).body.total).toBe(2);

    // A new script in the manifest is created.
    manifest.scripts.push({ name: 'Leaver cleanup', file: 'leaver.js', type: 'oneoff', parameters: [{ name: 'dry', type: 'boolean', default_value: true }] });
    writeFileSync(join(work, 'scripts', 'provisio.json'), JSON.stringify(manifest));
    writeFileSync(join(work, 'scripts', 'leaver.js'), 'export default async (ctx) => ctx.input;\n');
    const created = await cli(['scripts', 'push', 'scripts']);
    expect(created.stdout).toMatch(/created Leaver cleanup/);
  });

  it('runs a script (manual), cancels; a finished run is exit 5', async () => {
    const script = await author.createScript({ name: 'Nightly export', type: 'oneoff', source: 'export default async () => 1;' });
    const run = await cli(['executions', 'run', 'Nightly export', '--json']);
    expect(run.code).toBe(0);
    const execution = JSON.parse(run.stdout);
    expect(execution).toMatchObject({ script_id: script.id, status: 'pending', trigger_type: 'manual', executed_by: 'hook-author' });
    const cancelled = await cli(['executions', 'cancel', execution.id]);
    expect(cancelled).toMatchObject({ code: 0, stdout: `${execution.id} cancelled\n` });
    const twice = await cli(['executions', 'cancel', execution.id]);
    expect(twice.code).toBe(5);
    expect(twice.stderr).toMatch(/already ended cancelled/);
    expect((await cli(['executions', 'get', '00000000-0000-4000-8000-000000000000'])).code).toBe(4);
    expect((await cli(['executions', 'run', 'no such script'])).code).toBe(4);
    expect((await cli(['executions', 'run', 'Nightly export', '--input', '{nope'])).code).toBe(2);
  });

  it('tail follows the registry stream: every execution recorded meanwhile, once each, in the order recorded', async () => {
    const script = await author.createScript({ name: 'Tail target', type: 'oneoff', source: 'export default async () => 1;' });
    const other = await author.createScript({ name: 'Not followed', type: 'oneoff', source: 'export default async () => 2;' });
    const before = await author.post(`/scripts/${script.id}/executions`, {}).expect(202);
    await author.post(`/executions/${before.body.id}/cancel`).expect(200);
    // Recorded before tail starts: not shown (tail follows from now on).
    await new Promise((r) => setTimeout(r, 2500));
    const tail = cli(['executions', 'tail', '--script', 'Tail target', '--for', '14', '--json']);
    await new Promise((r) => setTimeout(r, 1500));
    // Records land in bursts (the registry records each cancel at once; no worker runs them here).
    const ids: string[] = [];
    for (let burst = 0; burst < 3; burst++) {
      const runs = await Promise.all(Array.from({ length: 4 }, () => author.post(`/scripts/${script.id}/executions`, {}).expect(202)));
      await Promise.all(runs.map((r) => author.post(`/executions/${r.body.id}/cancel`).expect(200)));
      ids.push(...runs.map((r) => r.body.id as string));
      const noise = await author.post(`/scripts/${other.id}/executions`, {}).expect(202);
      await author.post(`/executions/${noise.body.id}/cancel`).expect(200);
      await new Promise((r) => setTimeout(r, 700));
    }
    const followed = await tail;
    expect({ code: followed.code, stderr: followed.stderr }).toEqual({ code: 0, stderr: '' });
    const lines = followed.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string; status: string; script_id: string; completed_at: string; cursor: string });
    // Exactly the twelve, none twice, none of the other script, none from before.
    expect(lines.map((l) => l.id).sort()).toEqual([...ids].sort());
    expect(lines.every((l) => l.status === 'cancelled' && l.script_id === script.id)).toBe(true);
    const order = lines.map((l) => `${l.completed_at}`);
    expect([...order].sort()).toEqual(order);
    // Its cursor resumes: nothing after the last one, everything after the first but it.
    const resumed = await cli(['executions', 'tail', '--script', 'Tail target', '--after', lines[0].cursor, '--for', '4', '--json']);
    expect(resumed.stdout.trim().split('\n').map((l) => JSON.parse(l).id)).toEqual(lines.slice(1).map((l) => l.id));
  });

  it('dlq list, replay and discard against the execution worker, with filters', async () => {
    // The worker on the registry's schema and topic prefix, serving its dead-letter API.
    const config = loadConfig(workerConfig, testEnv({ DATABASE_SCHEMA: t.db.schema, KAFKA_TOPIC_PREFIX: t.prefix, REDIS_KEY_PREFIX: `test:${t.prefix}`, SANDBOX_POOL_SIZE: '1', DATABASE_POOL_SIZE: '3' }));
    const moduleRef = await Test.createTestingModule({ imports: [WorkerModule.forRoot(config)] }).compile();
    const worker: INestApplication = moduleRef.createNestApplication({ logger: ['error'] });
    configureApp(worker, {});
    await worker.init();
    await worker.listen(0, '127.0.0.1');
    try {
      const workerUrl = `http://127.0.0.1:${(worker.getHttpServer().address() as AddressInfo).port}`;
      const script = await author.createScript({ name: 'Directory sync', type: 'event', event_types: ['user.created'], source: 'export default async (ctx) => ctx.event.data.user_id;' });
      const letter = (error: string) =>
        t.db.dataSource.query(
          `INSERT INTO script_event_dead_letters (tenant_id, script_id, event_type, event_data, error, retry_count) VALUES ($1, $2, 'user.created', $3::jsonb, $4, 2) RETURNING id`,
          [author.tenantId, script.id, JSON.stringify({ id: 'ev-1', source: '//hr', event_type: 'user.created', data: { user_id: 'u-1' } }), error],
        );
      await letter('connect ECONNREFUSED 10.0.0.7:636');
      await letter('TypeError: cannot read mail');
      const env = { PROVISIO_WORKER_URL: workerUrl };
      const list = await cli(['dlq', 'list', '--script', 'Directory sync'], env);
      expect(list.code).toBe(0);
      expect(list.stdout).toMatch(/user\.created\s+replays 2\s+connect ECONNREFUSED/);
      const replay = await cli(['dlq', 'replay', '--error', 'econnrefused', '--version', 'latest', '--json'], env);
      expect(replay.code).toBe(0);
      expect(JSON.parse(replay.stdout)).toMatchObject({ replayed: 1, remaining: 0 });
      expect((await cli(['dlq', 'replay', '--version', 'newest'], env)).code).toBe(2);
      const discard = await cli(['dlq', 'discard', '--script', script.id, '--error', 'TypeError'], env);
      expect(discard).toMatchObject({ code: 0, stdout: 'discarded 1 dead letter(s)\n' });
      expect((await cli(['dlq', 'list', '--json'], env)).stdout).toContain('"total": 0');
    } finally {
      await worker.close();
    }
  });

  it('says when the service cannot be reached (exit 6) and answers unknown commands with usage (exit 2)', async () => {
    const down = await cli(['executions', 'list'], { PROVISIO_URL: 'http://127.0.0.1:9', PROVISIO_TOKEN: author.token });
    expect(down.code).toBe(6);
    expect(down.stderr).toMatch(/cannot reach the service/);
    expect((await cli(['frobnicate'])).code).toBe(2);
  });
});
