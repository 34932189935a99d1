import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { generateKeyPairSync, KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { TokenVerifier } from './token-verifier';

const secret = 's'.repeat(40);
const tenant = '0b6f1f2e-2f43-4c33-8a6f-0f1d2e3c4b5a';
const claims = { sub: 'alice', tenant_id: tenant, permissions: ['script:read'] };

describe('TokenVerifier: expiry, issuer and audience', () => {
  it('refuses a token without exp', async () => {
    const token = jwt.sign(claims, secret, { algorithm: 'HS256' });
    await expect(new TokenVerifier({ AUTH_JWT_SECRET: secret }).verify(token)).rejects.toThrow(/token claim exp: is required/);
  });

  it('checks issuer and audience when they are set (HS256 too)', async () => {
    const verifier = new TokenVerifier({ AUTH_JWT_SECRET: secret, AUTH_JWT_ISSUER: 'https://idp.example.com/', AUTH_JWT_AUDIENCE: 'provisio' });
    const sign = (options: jwt.SignOptions) => jwt.sign(claims, secret, { algorithm: 'HS256', expiresIn: '1m', ...options });
    await expect(verifier.verify(sign({ issuer: 'https://idp.example.com/', audience: 'provisio' }))).resolves.toMatchObject({ subject: 'alice' });
    await expect(verifier.verify(sign({ issuer: 'https://other.example.com/', audience: 'provisio' }))).rejects.toThrow(/jwt issuer invalid/);
    await expect(verifier.verify(sign({ issuer: 'https://idp.example.com/', audience: 'another-app' }))).rejects.toThrow(/jwt audience invalid/);
    await expect(verifier.verify(sign({ audience: 'provisio' }))).rejects.toThrow(/jwt issuer invalid/);
  });

  it('refuses to be built for a JWKS without issuer and audience', () => {
    expect(() => new TokenVerifier({ AUTH_JWKS_URL: 'https://idp.example.com/jwks.json' })).toThrow(/needs AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE/);
    expect(() => new TokenVerifier({ AUTH_JWKS_URL: 'https://idp.example.com/jwks.json', AUTH_JWT_ISSUER: 'https://idp.example.com/' })).toThrow(/AUTH_JWT_AUDIENCE/);
  });

  describe('with a JWKS', () => {
    let server: Server;
    let url: string;
    let privateKey: KeyObject;

    beforeAll(async () => {
      const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
      privateKey = pair.privateKey;
      const jwk = { ...pair.publicKey.export({ format: 'jwk' }), kid: 'k1', use: 'sig', alg: 'RS256' };
      server = createServer((_req, res) => res.end(JSON.stringify({ keys: [jwk] })));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it("accepts the issuer's tokens for this audience only, and only with exp", async () => {
      const verifier = new TokenVerifier({ AUTH_JWKS_URL: url, AUTH_JWT_ISSUER: 'https://idp.example.com/', AUTH_JWT_AUDIENCE: 'provisio' });
      const sign = (options: jwt.SignOptions) => jwt.sign(claims, privateKey, { algorithm: 'RS256', keyid: 'k1', ...options });
      const good = { issuer: 'https://idp.example.com/', audience: 'provisio', expiresIn: '1m' } as const;
      await expect(verifier.verify(sign(good))).resolves.toMatchObject({ subject: 'alice', tenantId: tenant });
      await expect(verifier.verify(sign({ ...good, audience: 'another-app' }))).rejects.toThrow(/audience invalid/);
      await expect(verifier.verify(sign({ ...good, issuer: 'https://evil.example.com/' }))).rejects.toThrow(/issuer invalid/);
      await expect(verifier.verify(sign({ issuer: good.issuer, audience: good.audience }))).rejects.toThrow(/exp: is required/);
    });
  });
});
