import { randomBytes, randomUUID } from 'node:crypto';
import { parseKeyRing } from './key-ring';
import { SealedDecryptionError, SealedJsonCipher, SealedKeyMissingError, sealedKeyIdOf } from './sealed-json';

const key = () => randomBytes(32).toString('base64');
const VARS = { ring: 'SCRIPT_SECRETS_KEYS', current: 'SCRIPT_SECRETS_KEY_ID' };
const KIND = { purpose: 'script-secrets', what: 'secrets' };

describe('sealed JSON (AES-256-GCM with a key ring)', () => {
  const owner = [randomUUID(), randomUUID()];

  it('round-trips, names its key, never contains the plaintext, and binds purpose and owner', () => {
    const ring = parseKeyRing(`k1:${key()}`, undefined, VARS);
    const cipher = new SealedJsonCipher(ring, KIND);
    const stored = cipher.encrypt('hunter2-secret', owner);
    expect(stored).toMatch(/^v1:k1:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]+:[A-Za-z0-9_-]{22}$/);
    expect(stored).not.toContain('hunter2');
    expect(sealedKeyIdOf(stored)).toBe('k1');
    expect(cipher.decrypt(stored, owner)).toBe('hunter2-secret');
    expect(cipher.encrypt('hunter2-secret', owner)).not.toBe(stored);
    expect(() => cipher.decrypt(stored, [owner[0], randomUUID()])).toThrow(SealedDecryptionError);
    // The same key under another purpose does not open it.
    expect(() => new SealedJsonCipher(ring, { purpose: 'connector-credentials', what: 'credentials' }).decrypt(stored, owner)).toThrow(SealedDecryptionError);
    expect(() => cipher.decrypt('plaintext', owner)).toThrow(SealedDecryptionError);
  });

  it('names the variable of a missing key and of a bad current id', () => {
    const before = new SealedJsonCipher(parseKeyRing(`old:${key()}`, undefined, VARS), KIND).encrypt({ a: 1 }, owner);
    const other = new SealedJsonCipher(parseKeyRing(`new:${key()}`, undefined, VARS), KIND);
    expect(() => other.decrypt(before, owner)).toThrow(SealedKeyMissingError);
    expect(() => other.decrypt(before, owner)).toThrow(/not in SCRIPT_SECRETS_KEYS/);
    expect(() => parseKeyRing(`k1:${key()}`, 'k2', VARS)).toThrow(/SCRIPT_SECRETS_KEY_ID k2 is not one of the ids in SCRIPT_SECRETS_KEYS/);
  });
});
