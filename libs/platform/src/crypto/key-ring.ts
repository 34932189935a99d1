/**
 * A ring of AES-256 keys from the environment, for `SealedJsonCipher`:
 *
 *   <RING VARIABLE>   = "<id>:<base64 of 32 bytes>[,<id>:<base64>…]"
 *   <CURRENT VARIABLE> = "<id>"   (the key new ciphertexts use; default: the first entry)
 *
 * Several keys let a key rotate: add the new one, make it current, re-encrypt, then drop the old one.
 * Each ciphertext names its key id. The variable names are the caller's (`CONNECTOR_CREDENTIALS_KEYS`,
 * `SCRIPT_SECRETS_KEYS`): they appear in error messages.
 */
export const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
export const KEY_BYTES = 32;

export interface KeyRing {
  keys: ReadonlyMap<string, Buffer>;
  currentId: string;
  /** The environment variable the ring came from, for messages. */
  variable: string;
}

export interface KeyRingVariables {
  ring: string;
  current: string;
}

/** Parses the keys; throws an Error whose message names what is wrong (never a key's bytes). */
export function parseKeyRing(list: string, currentId: string | undefined, variables: KeyRingVariables): KeyRing {
  const keys = new Map<string, Buffer>();
  const entries = list.split(',').map((entry) => entry.trim()).filter(Boolean);
  if (entries.length === 0) throw new Error('must list at least one <id>:<base64 key>');
  for (const [i, entry] of entries.entries()) {
    const colon = entry.indexOf(':');
    const id = colon < 0 ? '' : entry.slice(0, colon);
    const encoded = colon < 0 ? '' : entry.slice(colon + 1);
    if (!KEY_ID.test(id)) throw new Error(`entry ${i + 1} must be <id>:<base64 key> with an id of 1-32 letters, digits, _ or -`);
    if (keys.has(id)) throw new Error(`key id ${id} is listed twice`);
    const key = BASE64.test(encoded) ? Buffer.from(encoded, 'base64') : Buffer.alloc(0);
    if (key.length !== KEY_BYTES) throw new Error(`key ${id} must be ${KEY_BYTES} bytes, base64-encoded (openssl rand -base64 32)`);
    keys.set(id, key);
  }
  const current = currentId ?? entries[0].slice(0, entries[0].indexOf(':'));
  if (!keys.has(current)) throw new Error(`${variables.current} ${current} is not one of the ids in ${variables.ring}`);
  return { keys, currentId: current, variable: variables.ring };
}
