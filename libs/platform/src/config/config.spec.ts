import { z } from 'zod';
import { ConfigError, describeEnv, loadConfig } from './load-config';
import { authEnv, databaseEnv, kafkaEnv, refineAuth, serviceEnv } from './env';

const schema = refineAuth(z.object({ ...serviceEnv, ...databaseEnv, ...kafkaEnv, ...authEnv }));
const good = {
  DATABASE_URL: 'postgres://u@localhost:5432/db',
  KAFKA_BROKERS: 'localhost:9092, other:9093',
  AUTH_JWT_SECRET: 'x'.repeat(32),
};

describe('loadConfig', () => {
  it('parses and applies defaults', () => {
    const config = loadConfig(schema, good);
    expect(config.KAFKA_BROKERS).toEqual(['localhost:9092', 'other:9093']);
    expect(config.DATABASE_SCHEMA).toBe('public');
    expect(config.LOG_LEVEL).toBe('info');
  });

  it('names a missing variable', () => {
    expect(() => loadConfig(schema, { ...good, DATABASE_URL: '' })).toThrow(/DATABASE_URL: is required but not set/);
  });

  it('names a wrong variable and says what is wrong', () => {
    try {
      loadConfig(schema, { ...good, KAFKA_BROKERS: 'nohostport', LOG_LEVEL: 'loud' });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const variables = (error as ConfigError).problems.map((p) => p.variable);
      expect(variables).toEqual(expect.arrayContaining(['KAFKA_BROKERS', 'LOG_LEVEL']));
    }
  });

  it('requires one of the auth settings', () => {
    expect(() => loadConfig(schema, { ...good, AUTH_JWT_SECRET: undefined })).toThrow(/AUTH_JWT_SECRET: set AUTH_JWT_SECRET \(HS256\) or AUTH_JWKS_URL/);
  });

  it('requires issuer and audience with a JWKS, naming each', () => {
    const jwks = { ...good, AUTH_JWT_SECRET: undefined, AUTH_JWKS_URL: 'https://idp.example.com/.well-known/jwks.json' };
    expect(() => loadConfig(schema, jwks)).toThrow(/AUTH_JWT_ISSUER: is required with AUTH_JWKS_URL/);
    expect(() => loadConfig(schema, { ...jwks, AUTH_JWT_ISSUER: 'https://idp.example.com/' })).toThrow(/AUTH_JWT_AUDIENCE: is required with AUTH_JWKS_URL/);
    expect(loadConfig(schema, { ...jwks, AUTH_JWT_ISSUER: 'https://idp.example.com/', AUTH_JWT_AUDIENCE: 'provisio' }).AUTH_JWT_AUDIENCE).toBe('provisio');
  });

  it('describes which variables are required', () => {
    const vars = describeEnv(schema);
    expect(vars.find((v) => v.name === 'DATABASE_URL')).toEqual({ name: 'DATABASE_URL', required: true });
    expect(vars.find((v) => v.name === 'LOG_LEVEL')).toMatchObject({ required: false, defaultValue: 'info' });
  });
});
