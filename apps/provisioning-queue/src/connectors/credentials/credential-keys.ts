import { KeyRing, parseKeyRing } from '@provisio/platform';

export { KEY_ID, KEY_BYTES } from '@provisio/platform';

/**
 * The keys connector credentials are encrypted with (AES-256-GCM, `SealedJsonCipher` of
 * `@provisio/platform`), from the environment:
 *
 *   CONNECTOR_CREDENTIALS_KEYS   = "<id>:<base64 of 32 bytes>[,<id>:<base64>…]"
 *   CONNECTOR_CREDENTIALS_KEY_ID = "<id>"   (the key new ciphertexts use; default: the first entry)
 *
 * Several keys let a key rotate: add the new one, make it current, re-encrypt
 * (`POST /connectors/credentials/re-encrypt`), then drop the old one. Each ciphertext names its key id.
 */
export type CredentialKeys = KeyRing;

/** Parses the keys; throws an Error whose message names what is wrong (never a key's bytes). */
export function parseCredentialKeys(list: string, currentId?: string): CredentialKeys {
  return parseKeyRing(list, currentId, { ring: 'CONNECTOR_CREDENTIALS_KEYS', current: 'CONNECTOR_CREDENTIALS_KEY_ID' });
}
