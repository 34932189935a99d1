import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, ConflictError } from '@provisio/platform';
import type { AppConfig } from '../../config';
import { CredentialCipher, CredentialDecryptionError, CredentialKeyMissingError, CredentialOwner } from './credential-cipher';
import { parseCredentialKeys } from './credential-keys';

/**
 * Connector credentials in and out of their ciphertext, with the keys of the environment
 * (CONNECTOR_CREDENTIALS_KEYS, validated at start-up by config.ts). Without keys the service runs, and
 * refuses (409, field `credentials`) any request that would store or use credentials.
 */
@Injectable()
export class ConnectorCredentialsService implements OnModuleInit {
  private readonly logger = new Logger(ConnectorCredentialsService.name);
  private readonly cipher: CredentialCipher | null;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.cipher = config.CONNECTOR_CREDENTIALS_KEYS ? new CredentialCipher(parseCredentialKeys(config.CONNECTOR_CREDENTIALS_KEYS, config.CONNECTOR_CREDENTIALS_KEY_ID)) : null;
  }

  onModuleInit(): void {
    if (!this.cipher) this.logger.warn('CONNECTOR_CREDENTIALS_KEYS is not set: connectors with credentials can be neither stored nor used');
  }

  get currentKeyId(): string {
    return this.required().currentKeyId;
  }

  encrypt(credentials: unknown, owner: CredentialOwner): string {
    return this.required().encrypt(credentials, owner);
  }

  decrypt(stored: string, owner: CredentialOwner): unknown {
    try {
      return this.required().decrypt(stored, owner);
    } catch (error) {
      if (error instanceof CredentialKeyMissingError || error instanceof CredentialDecryptionError) throw new ConflictError(error.message, 'credentials');
      throw error;
    }
  }

  private required(): CredentialCipher {
    if (!this.cipher) throw new ConflictError('connector credentials need CONNECTOR_CREDENTIALS_KEYS, which this deployment does not set', 'credentials');
    return this.cipher;
  }
}
