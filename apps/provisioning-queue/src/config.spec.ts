import { randomBytes } from 'node:crypto';
import { ConfigError, loadConfig } from '@provisio/platform';
import { appConfigSchema } from './config';

const base = { DATABASE_URL: 'postgres://u@localhost:5432/db', REDIS_URL: 'redis://localhost:6379', KAFKA_BROKERS: 'localhost:9092', AUTH_JWT_SECRET: 'x'.repeat(40) };
const key = () => randomBytes(32).toString('base64');

describe('provisioning-queue configuration', () => {
  it('runs without credential keys, and takes a valid key list with a current id', () => {
    expect(loadConfig(appConfigSchema, base)).toMatchObject({ PORT: 3004, CONNECTOR_CALL_TIMEOUT_MS: 30_000 });
    expect(loadConfig(appConfigSchema, { ...base, CONNECTOR_CREDENTIALS_KEYS: `a:${key()}, b:${key()}`, CONNECTOR_CREDENTIALS_KEY_ID: 'b' })).toMatchObject({ CONNECTOR_CREDENTIALS_KEY_ID: 'b' });
  });

  it.each([
    [{ CONNECTOR_CREDENTIALS_KEYS: key() }, /CONNECTOR_CREDENTIALS_KEYS: entry 1 must be <id>:<base64 key>/],
    [{ CONNECTOR_CREDENTIALS_KEYS: `a:${randomBytes(31).toString('base64')}` }, /CONNECTOR_CREDENTIALS_KEYS: key a must be 32 bytes/],
    [{ CONNECTOR_CREDENTIALS_KEYS: `a:${key()}`, CONNECTOR_CREDENTIALS_KEY_ID: 'b' }, /CONNECTOR_CREDENTIALS_KEY_ID: CONNECTOR_CREDENTIALS_KEY_ID b is not one of/],
    [{ CONNECTOR_CREDENTIALS_KEY_ID: 'a' }, /CONNECTOR_CREDENTIALS_KEY_ID: needs CONNECTOR_CREDENTIALS_KEYS/],
    [{ CONNECTOR_CALL_TIMEOUT_MS: '5' }, /CONNECTOR_CALL_TIMEOUT_MS/],
  ])('refuses %j, naming the variable', (patch, message) => {
    expect(() => loadConfig(appConfigSchema, { ...base, ...patch })).toThrow(ConfigError);
    expect(() => loadConfig(appConfigSchema, { ...base, ...patch })).toThrow(message);
  });

  it('never puts a key in its error message', () => {
    const secret = randomBytes(31).toString('base64'); // one byte short
    let refused: unknown;
    try {
      loadConfig(appConfigSchema, { ...base, CONNECTOR_CREDENTIALS_KEYS: `a:${secret}` });
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as Error).message).toMatch(/key a must be 32 bytes/);
    expect((refused as Error).message).not.toContain(secret);
  });
});
