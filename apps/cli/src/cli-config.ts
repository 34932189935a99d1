import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** Where `provisio login` keeps the URLs and the token, and what overrides them. */
export interface CliConfig {
  /** The script registry, e.g. http://localhost:3001. */
  url: string;
  /** The execution worker (dead letters), e.g. http://localhost:3002. */
  workerUrl: string;
  token: string;
}

/**
 * `$PROVISIO_CONFIG_DIR`, else `$XDG_CONFIG_HOME/provisio`, else `~/.config/provisio` (on Windows
 * `%APPDATA%\provisio`): the user's config dir, as other CLIs use it.
 */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PROVISIO_CONFIG_DIR) return env.PROVISIO_CONFIG_DIR;
  if (process.platform === 'win32' && env.APPDATA) return join(env.APPDATA, 'provisio');
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'provisio');
}

export const configFile = (env: NodeJS.ProcessEnv = process.env) => join(configDir(env), 'config.json');

/** The worker's URL when none is given: the registry's host on port 3002 (the local stack's). */
export function defaultWorkerUrl(url: string): string {
  const parsed = new URL(url);
  parsed.port = '3002';
  return parsed.toString().replace(/\/$/, '');
}

export function saveConfig(config: CliConfig, env: NodeJS.ProcessEnv = process.env): string {
  const file = configFile(env);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  // The token is a credential: readable by the user only.
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return file;
}

export class NotLoggedInError extends Error {}

/** The stored config with `PROVISIO_URL`, `PROVISIO_WORKER_URL` and `PROVISIO_TOKEN` taking precedence. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  let stored: Partial<CliConfig> = {};
  try {
    stored = JSON.parse(readFileSync(configFile(env), 'utf8')) as Partial<CliConfig>;
  } catch {
    stored = {};
  }
  const url = (env.PROVISIO_URL ?? stored.url)?.replace(/\/$/, '');
  const token = env.PROVISIO_TOKEN ?? stored.token;
  if (!url || !token) throw new NotLoggedInError('not logged in: run `provisio login --url <registry url> --token <token>` or set PROVISIO_URL and PROVISIO_TOKEN');
  return { url, token, workerUrl: (env.PROVISIO_WORKER_URL ?? stored.workerUrl ?? defaultWorkerUrl(url)).replace(/\/$/, '') };
}
