import jwt, { JwtHeader, JwtPayload } from 'jsonwebtoken';
import { JwksClient } from 'jwks-rsa';
import { createSecretKey, KeyObject } from 'node:crypto';
import { z } from 'zod';
import { UnauthenticatedError } from '../errors/domain-errors';
import type { Principal } from './principal';

export interface AuthConfig {
  AUTH_JWT_SECRET?: string;
  AUTH_JWKS_URL?: string;
  AUTH_JWT_ISSUER?: string;
  AUTH_JWT_AUDIENCE?: string;
}

const claimsSchema = z.object({
  sub: z.string().min(1),
  /** Required: a token without an expiry would be valid for ever once leaked (jsonwebtoken checks its value). */
  exp: z.number({ error: 'is required: tokens without an expiry are refused' }),
  tenant_id: z.uuid(),
  permissions: z.array(z.string()).optional(),
  scope: z.string().optional(),
});

/**
 * Verifies bearer tokens: HS256 with a shared secret in development, keys from a JWKS in production. Every
 * token must carry `exp`; with a JWKS, `iss` and `aud` must match AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE
 * (required then: a key set of an identity provider signs tokens for every application it serves).
 */
export class TokenVerifier {
  private readonly jwks?: JwksClient;
  /**
   * The HS256 secret as a KeyObject, made once: given a string, jsonwebtoken first tries (and fails) to
   * parse it as a public key on every verification, which costs more than the HMAC itself.
   */
  private readonly secretKey?: KeyObject;

  constructor(private readonly config: AuthConfig) {
    if (config.AUTH_JWT_SECRET) this.secretKey = createSecretKey(Buffer.from(config.AUTH_JWT_SECRET, 'utf8'));
    if (config.AUTH_JWKS_URL) {
      if (!config.AUTH_JWT_ISSUER || !config.AUTH_JWT_AUDIENCE) throw new Error('AUTH_JWKS_URL needs AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE');
      this.jwks = new JwksClient({ jwksUri: config.AUTH_JWKS_URL, cache: true, rateLimit: true, jwksRequestsPerMinute: 10 });
    }
  }

  async verify(token: string): Promise<Principal> {
    const payload = await new Promise<JwtPayload>((resolve, reject) => {
      jwt.verify(
        token,
        (header: JwtHeader, callback) => this.keyFor(header).then((key) => callback(null, key), (error) => callback(error as Error)),
        {
          algorithms: this.jwks ? ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'PS256'] : ['HS256'],
          ...(this.config.AUTH_JWT_ISSUER ? { issuer: this.config.AUTH_JWT_ISSUER } : {}),
          ...(this.config.AUTH_JWT_AUDIENCE ? { audience: this.config.AUTH_JWT_AUDIENCE } : {}),
        },
        (error, decoded) => (error || !decoded || typeof decoded === 'string' ? reject(error ?? new Error('bad token')) : resolve(decoded)),
      );
    }).catch((error: Error) => {
      throw new UnauthenticatedError(`invalid bearer token: ${error.message}`);
    });
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) {
      const issue = claims.error.issues[0];
      throw new UnauthenticatedError(`token claim ${issue.path.join('.')}: ${issue.message}`);
    }
    const permissions = new Set([...(claims.data.permissions ?? []), ...(claims.data.scope?.split(' ').filter(Boolean) ?? [])]);
    return { subject: claims.data.sub, tenantId: claims.data.tenant_id, permissions };
  }

  private async keyFor(header: JwtHeader): Promise<string | KeyObject> {
    if (!this.jwks) return this.secretKey!;
    const key = await this.jwks.getSigningKey(header.kid);
    return key.getPublicKey();
  }
}

/** Development and test tokens (HS256). Never used by the services themselves. */
export function signDevToken(secret: string, claims: { sub: string; tenant_id: string; permissions: string[] }, expiresIn: `${number}${'s' | 'm' | 'h' | 'd'}` = '1h'): string {
  return jwt.sign(claims, secret, { algorithm: 'HS256', expiresIn });
}
