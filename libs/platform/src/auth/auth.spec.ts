import { signDevToken, TokenVerifier } from './token-verifier';

const secret = 's'.repeat(40);
const tenant = '0b6f1f2e-2f43-4c33-8a6f-0f1d2e3c4b5a';

describe('TokenVerifier (HS256)', () => {
  const verifier = new TokenVerifier({ AUTH_JWT_SECRET: secret });

  it('resolves subject, tenant and permissions from permissions and scope', async () => {
    const token = signDevToken(secret, { sub: 'alice', tenant_id: tenant, permissions: ['script:read'] });
    const principal = await verifier.verify(token);
    expect(principal.subject).toBe('alice');
    expect(principal.tenantId).toBe(tenant);
    expect([...principal.permissions]).toEqual(['script:read']);
  });

  it('rejects a token signed with another secret', async () => {
    const token = signDevToken('x'.repeat(40), { sub: 'alice', tenant_id: tenant, permissions: [] });
    await expect(verifier.verify(token)).rejects.toThrow(/invalid bearer token/);
  });

  it('rejects a token without a tenant', async () => {
    const token = signDevToken(secret, { sub: 'alice', tenant_id: 'nope', permissions: [] });
    await expect(verifier.verify(token)).rejects.toThrow(/tenant_id/);
  });

  it('rejects an expired token', async () => {
    const token = signDevToken(secret, { sub: 'alice', tenant_id: tenant, permissions: [] }, '-10s' as '1s');
    await expect(verifier.verify(token)).rejects.toThrow(/expired/);
  });
});
