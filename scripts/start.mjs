// `npm start`: installs what is missing, brings up the local stack (Kafka, PostgreSQL, Redis), migrates,
// starts the five services and prints where their docs and health endpoints are. Ctrl-C stops what it started.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, ensureDependencies, log, migrate, ROOT, spawnPrefixed } from './lib.mjs';

export const SERVICES = [
  { name: 'script-registry', port: 3001 },
  { name: 'execution-worker', port: 3002 },
  { name: 'scheduler', port: 3003 },
  { name: 'provisioning-queue', port: 3004 },
  { name: 'reconciler', port: 3005 },
];

/** A development signing secret, made once per checkout and kept in the git-ignored .stack folder. */
function devJwtSecret() {
  if (process.env.AUTH_JWT_SECRET || process.env.AUTH_JWKS_URL) return process.env.AUTH_JWT_SECRET;
  const file = join(ROOT, '.stack', 'dev-jwt-secret');
  if (!existsSync(file)) {
    mkdirSync(join(ROOT, '.stack'), { recursive: true });
    writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  }
  return readFileSync(file, 'utf8').trim();
}

/**
 * The development key of connector credentials (AES-256-GCM, 32 random bytes), made once per checkout
 * like the JWT secret: `CONNECTOR_CREDENTIALS_KEYS=dev:<base64>`, unless the environment sets its own.
 */
function devConnectorCredentialsKeys() {
  if (process.env.CONNECTOR_CREDENTIALS_KEYS) return process.env.CONNECTOR_CREDENTIALS_KEYS;
  const file = join(ROOT, '.stack', 'dev-connector-credentials-key');
  if (!existsSync(file)) {
    mkdirSync(join(ROOT, '.stack'), { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 });
  }
  return `dev:${readFileSync(file, 'utf8').trim()}`;
}

/** The development key ring of script secrets (`SCRIPT_SECRETS_KEYS=dev:<base64>`), made once per checkout the same way. */
function devScriptSecretsKeys() {
  if (process.env.SCRIPT_SECRETS_KEYS) return process.env.SCRIPT_SECRETS_KEYS;
  const file = join(ROOT, '.stack', 'dev-script-secrets-key');
  if (!existsSync(file)) {
    mkdirSync(join(ROOT, '.stack'), { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 });
  }
  return `dev:${readFileSync(file, 'utf8').trim()}`;
}

async function waitReady(port, deadline) {
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health/ready`);
      if (response.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

async function main() {
  const startedAt = Date.now();
  ensureDependencies();
  const stack = await import('./stack/index.mjs');
  const env = await stack.up();
  const stackEnv = { DATABASE_URL: env.DATABASE_URL, REDIS_URL: env.REDIS_URL, KAFKA_BROKERS: env.KAFKA_BROKERS };
  build();
  migrate(stackEnv);

  const secret = devJwtSecret();
  const credentialKeys = devConnectorCredentialsKeys();
  const scriptSecretsKeys = devScriptSecretsKeys();
  const children = SERVICES.map((service) =>
    spawnPrefixed(service.name, process.execPath, [join(ROOT, 'apps', service.name, 'dist', 'main.js')], {
      ...stackEnv,
      ...(secret ? { AUTH_JWT_SECRET: secret } : {}),
      CONNECTOR_CREDENTIALS_KEYS: credentialKeys,
      SCRIPT_SECRETS_KEYS: scriptSecretsKeys,
      PORT: String(service.port),
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    }),
  );

  let stopping = false;
  const stop = async (code) => {
    if (stopping) return;
    stopping = true;
    log('stopping services...');
    await Promise.all(children.map((child) => (child.exitCode !== null ? null : new Promise((resolve) => { child.once('exit', resolve); child.kill('SIGTERM'); }))));
    if (env.startedNow) {
      log('stopping the local stack it started...');
      await stack.down({ only: env.started });
    }
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  for (const [i, child] of children.entries()) {
    child.once('exit', (code) => {
      if (!stopping) {
        log(`${SERVICES[i].name} exited with ${code}; stopping everything`);
        void stop(1);
      }
    });
  }

  const ready = await Promise.all(SERVICES.map((s) => waitReady(s.port, Date.now() + 120_000)));
  if (ready.some((r) => !r)) {
    log(`not ready after 120 s: ${SERVICES.filter((_, i) => !ready[i]).map((s) => s.name).join(', ')}`);
    return stop(1);
  }
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  const rows = SERVICES.map((s) => `  ${s.name.padEnd(20)} http://127.0.0.1:${s.port}/docs   health: /health/live /health/ready   metrics: /metrics`);
  log(`all five services ready in ${seconds} s\n${rows.join('\n')}\n  get a development token: npm run token -- --tenant <uuid> --permissions script:manage\n  Ctrl-C stops everything npm start started.`);
}

main().catch((error) => {
  process.stderr.write(`[provisio] npm start failed: ${error.message}\n`);
  process.exit(1);
});
