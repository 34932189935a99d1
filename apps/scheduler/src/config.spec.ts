import { ConfigError, loadConfig } from '@provisio/platform';
import { appConfigSchema } from './config';

const base = { DATABASE_URL: 'postgres://u@localhost:5432/db', KAFKA_BROKERS: 'localhost:9092', AUTH_JWT_SECRET: 'x'.repeat(40) };

describe('scheduler configuration', () => {
  it('has working defaults', () => {
    expect(loadConfig(appConfigSchema, base)).toMatchObject({
      PORT: 3003,
      SCHEDULER_FIRING_ENABLED: true,
      SCHEDULER_POLL_INTERVAL_MS: 1000,
      SCHEDULER_BATCH_SIZE: 1000,
      SCHEDULER_CLAIM_CONCURRENCY: 2,
      SCHEDULER_PREPARE_AHEAD_MS: 1500,
      SCHEDULER_MISFIRE_THRESHOLD_MS: 60000,
      SCHEDULER_RUN_GRACE_MS: 60000,
      SCHEDULER_CLAIM_TIMEOUT_MS: 10000,
    });
    expect(loadConfig(appConfigSchema, { ...base, SCHEDULER_FIRING_ENABLED: 'false' }).SCHEDULER_FIRING_ENABLED).toBe(false);
  });

  it.each([
    [{ SCHEDULER_BATCH_SIZE: '0' }, 'SCHEDULER_BATCH_SIZE'],
    [{ SCHEDULER_BATCH_SIZE: '10000' }, 'SCHEDULER_BATCH_SIZE'],
    [{ SCHEDULER_FIRING_ENABLED: 'yes' }, 'SCHEDULER_FIRING_ENABLED'],
    [{ SCHEDULER_PREPARE_AHEAD_MS: '4000', SCHEDULER_CLAIM_TIMEOUT_MS: '4500' }, 'SCHEDULER_PREPARE_AHEAD_MS'],
  ])('refuses %j, naming the variable', (patch, variable) => {
    expect(() => loadConfig(appConfigSchema, { ...base, ...patch })).toThrow(ConfigError);
    expect(() => loadConfig(appConfigSchema, { ...base, ...patch })).toThrow(new RegExp(`${variable}:`));
  });
});
