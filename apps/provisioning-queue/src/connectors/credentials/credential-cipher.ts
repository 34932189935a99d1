import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CredentialKeys } from './credential-keys';

/**
 * Connector credentials at rest: AES-256-GCM, a random 96-bit IV per encryption, a 128-bit tag. The
 * stored text is
 *
 *   v1:<key id>:<iv, base64url>:<ciphertext, base64url>:<tag, base64url>
 *
 * and the additional authenticated data binds it to its tenant and connector
 * (`provisio:connector-credentials:v1:<tenant id>:<connector id>`): a ciphertext copied to another
 * connector's row does not decrypt. Plaintext is the credentials object as JSON; it never leaves this
 * process except towards the target system.
 */
const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class CredentialKeyMissingError extends Error {
  constructor(readonly keyId: string) {
    super(`the credentials were encrypted with key ${keyId}, which is not in CONNECTOR_CREDENTIALS_KEYS`);
    this.name = 'CredentialKeyMissingError';
  }
}

export class CredentialDecryptionError extends Error {
  constructor(reason: string) {
    super(`stored credentials cannot be decrypted: ${reason}`);
    this.name = 'CredentialDecryptionError';
  }
}

export interface CredentialOwner {
  tenantId: string;
  connectorId: string;
}

const aadOf = ({ tenantId, connectorId }: CredentialOwner) => Buffer.from(`provisio:connector-credentials:${VERSION}:${tenantId}:${connectorId}`, 'utf8');

export class CredentialCipher {
  constructor(private readonly keys: CredentialKeys) {}

  get currentKeyId(): string {
    return this.keys.currentId;
  }

  encrypt(credentials: unknown, owner: CredentialOwner): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.keys.get(this.keys.currentId)!, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aadOf(owner));
    const body = Buffer.concat([cipher.update(JSON.stringify(credentials), 'utf8'), cipher.final()]);
    return [VERSION, this.keys.currentId, iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join(':');
  }

  decrypt(stored: string, owner: CredentialOwner): unknown {
    const parts = stored.split(':');
    if (parts.length !== 5 || parts[0] !== VERSION) throw new CredentialDecryptionError('not a v1 ciphertext');
    const [, keyId, iv, body, tag] = parts;
    const key = this.keys.keys.get(keyId);
    if (!key) throw new CredentialKeyMissingError(keyId);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
      decipher.setAAD(aadOf(owner));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      const plain = Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]);
      return JSON.parse(plain.toString('utf8'));
    } catch {
      throw new CredentialDecryptionError('authentication failed (wrong key, or the text was altered or belongs to another connector)');
    }
  }
}

/** The key id a stored ciphertext names, or null when there is none. */
export function keyIdOf(stored: string | null): string | null {
  if (!stored) return null;
  const parts = stored.split(':');
  return parts.length === 5 && parts[0] === VERSION ? parts[1] : null;
}
