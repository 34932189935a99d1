import { SealedJsonCipher } from '@provisio/platform';
import type { CredentialKeys } from './credential-keys';

export { SealedKeyMissingError as CredentialKeyMissingError, SealedDecryptionError as CredentialDecryptionError, sealedKeyIdOf as keyIdOf } from '@provisio/platform';

/**
 * Connector credentials at rest: `SealedJsonCipher` (AES-256-GCM) bound to its tenant and connector
 * (`provisio:connector-credentials:v1:<tenant id>:<connector id>`): a ciphertext copied to another
 * connector's row does not decrypt. Plaintext is the credentials object as JSON; it never leaves this
 * process except towards the target system.
 */
export interface CredentialOwner {
  tenantId: string;
  connectorId: string;
}

export class CredentialCipher {
  private readonly sealed: SealedJsonCipher;

  constructor(keys: CredentialKeys) {
    this.sealed = new SealedJsonCipher(keys, { purpose: 'connector-credentials', what: 'credentials' });
  }

  get currentKeyId(): string {
    return this.sealed.currentKeyId;
  }

  encrypt(credentials: unknown, owner: CredentialOwner): string {
    return this.sealed.encrypt(credentials, [owner.tenantId, owner.connectorId]);
  }

  decrypt(stored: string, owner: CredentialOwner): unknown {
    return this.sealed.decrypt(stored, [owner.tenantId, owner.connectorId]);
  }
}
