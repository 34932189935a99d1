import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { KeyRing } from './key-ring';

/**
 * JSON values at rest: AES-256-GCM, a random 96-bit IV per encryption, a 128-bit tag. The stored text is
 *
 *   v1:<key id>:<iv, base64url>:<ciphertext, base64url>:<tag, base64url>
 *
 * and the additional authenticated data binds it to its purpose and owner
 * (`provisio:<purpose>:v1:<owner part>:<owner part>…`, e.g. a tenant and a connector): a ciphertext copied
 * to another row does not decrypt. Connector credentials and script secrets both use it, each with its
 * own purpose and key ring.
 */
const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SealedKeyMissingError extends Error {
  constructor(
    readonly keyId: string,
    what: string,
    variable: string,
  ) {
    super(`the ${what} were encrypted with key ${keyId}, which is not in ${variable}`);
    this.name = 'SealedKeyMissingError';
  }
}

export class SealedDecryptionError extends Error {
  constructor(what: string, reason: string) {
    super(`stored ${what} cannot be decrypted: ${reason}`);
    this.name = 'SealedDecryptionError';
  }
}

export interface SealedJsonPurpose {
  /** Part of the AAD: `connector-credentials`, `script-secrets`. Never change it for stored data. */
  purpose: string;
  /** How messages call what is sealed ("credentials", "secrets"). */
  what: string;
}

export class SealedJsonCipher {
  constructor(
    private readonly keys: KeyRing,
    private readonly kind: SealedJsonPurpose,
  ) {}

  get currentKeyId(): string {
    return this.keys.currentId;
  }

  /** `owner`: the ids the ciphertext is bound to, in a fixed order (tenant first). */
  encrypt(value: unknown, owner: readonly string[]): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.keys.get(this.keys.currentId)!, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(this.aadOf(owner));
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return [VERSION, this.keys.currentId, iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join(':');
  }

  decrypt(stored: string, owner: readonly string[]): unknown {
    const parts = typeof stored === 'string' ? stored.split(':') : [];
    if (parts.length !== 5 || parts[0] !== VERSION) throw new SealedDecryptionError(this.kind.what, 'not a v1 ciphertext');
    const [, keyId, iv, body, tag] = parts;
    const key = this.keys.keys.get(keyId);
    if (!key) throw new SealedKeyMissingError(keyId, this.kind.what, this.keys.variable);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
      decipher.setAAD(this.aadOf(owner));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      const plain = Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]);
      return JSON.parse(plain.toString('utf8'));
    } catch {
      throw new SealedDecryptionError(this.kind.what, 'authentication failed (wrong key, or the text was altered or belongs to another owner)');
    }
  }

  private aadOf(owner: readonly string[]): Buffer {
    return Buffer.from([`provisio:${this.kind.purpose}:${VERSION}`, ...owner].join(':'), 'utf8');
  }
}

/** The key id a stored ciphertext names, or null when there is none. */
export function sealedKeyIdOf(stored: string | null): string | null {
  if (!stored) return null;
  const parts = stored.split(':');
  return parts.length === 5 && parts[0] === VERSION ? parts[1] : null;
}
