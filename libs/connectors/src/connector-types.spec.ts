import { ConnectorErrorCode } from './connector-errors';
import { connectorConfigSchemas, createConnector, registeredConnectorTypes, validateConnectorConfig, validateConnectorCredentials } from './connector-types';
import { expectConnectorError } from './testing';
import './scim';

describe('connector types', () => {
  it('SCIM registers its config and credentials schemas', () => {
    expect(registeredConnectorTypes()).toContain('scim');
    expect(connectorConfigSchemas.scim).toBeDefined();
  });

  it('fills the SCIM defaults', () => {
    const result = validateConnectorConfig('scim', { baseUrl: 'https://scim.example.test/v2', auth: 'bearer' });
    expect(result).toMatchObject({
      ok: true,
      value: {
        pageSize: 100,
        bulk: 'auto',
        etags: true,
        resourceTypes: { account: { endpoint: '/Users' }, group: { endpoint: '/Groups' } },
        limits: { maxConnections: 10, maxConcurrency: 10, timeoutMs: 30_000 },
      },
    });
  });

  it('names each bad field of a config', () => {
    const result = validateConnectorConfig('scim', {
      baseUrl: 'ftp://x.test',
      auth: 'token',
      pageSize: 0,
      limits: { timeoutMs: 5 },
      headers: { Authorization: 'Bearer leaked' },
      extra: true,
    });
    expect(result.ok).toBe(false);
    const message = result.ok ? '' : result.message;
    for (const field of ['baseUrl', 'auth', 'pageSize', 'limits.timeoutMs', 'headers', 'extra']) expect(message).toContain(field);
  });

  it('refuses credentials in the base URL (they belong in the encrypted credentials)', () => {
    const result = validateConnectorConfig('scim', { baseUrl: 'https://user:secret@scim.example.test', auth: 'basic' });
    expect(result).toMatchObject({ ok: false, message: expect.stringContaining('baseUrl: must not carry credentials') });
  });

  it('validates credentials without echoing them', () => {
    expect(validateConnectorCredentials('scim', { token: 't' }).ok).toBe(true);
    expect(validateConnectorCredentials('scim', { username: 'u', password: 'p' }).ok).toBe(true);
    const bad = validateConnectorCredentials('scim', { token: 'sekrit-value', extra: 'also-sekrit' });
    expect(bad.ok).toBe(false);
    expect(bad.ok ? '' : bad.message).not.toContain('sekrit');
  });

  it('createConnector refuses an unknown type, a bad config and credentials of the wrong auth', async () => {
    await expectConnectorError(async () => createConnector('nope' as never, {}, {}), ConnectorErrorCode.InvalidConfig);
    await expectConnectorError(async () => createConnector('scim', { baseUrl: 'x', auth: 'bearer' }, { token: 't' }), ConnectorErrorCode.InvalidConfig);
    const error = await expectConnectorError(async () => createConnector('scim', { baseUrl: 'http://127.0.0.1:1/scim', auth: 'bearer' }, { username: 'u', password: 'p' }), ConnectorErrorCode.InvalidConfig);
    expect(error.message).toContain('no token');
  });

  it('createConnector builds a SCIM connector from a valid config', async () => {
    const connector = createConnector('scim', { baseUrl: 'http://127.0.0.1:1/scim', auth: 'bearer' }, { token: 't' });
    expect(connector.type).toBe('scim');
    await connector.close();
  });
});
