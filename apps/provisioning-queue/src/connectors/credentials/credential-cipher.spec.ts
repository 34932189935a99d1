import { randomBytes, randomUUID } from 'node:crypto';
import { CredentialCipher, CredentialDecryptionError, CredentialKeyMissingError, keyIdOf } from './credential-cipher';
import { parseCredentialKeys } from './credential-keys';

const key = () => randomBytes(32).toString('base64');

describe('connector credential encryption', () => {
  const owner = { tenantId: randomUUID(), connectorId: randomUUID() };

  it('round-trips, names its key, and never contains the plaintext', () => {
    const cipher = new CredentialCipher(parseCredentialKeys(`k1:${key()}`));
    const stored = cipher.encrypt({ password: 'hunter2-secret' }, owner);
    expect(stored).toMatch(/^v1:k1:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]+:[A-Za-z0-9_-]{22}$/);
    expect(stored).not.toContain('hunter2');
    expect(Buffer.from(stored.split(':')[3], 'base64url').toString('latin1')).not.toContain('hunter2');
    expect(keyIdOf(stored)).toBe('k1');
    expect(cipher.decrypt(stored, owner)).toEqual({ password: 'hunter2-secret' });
    // A fresh IV each time.
    expect(cipher.encrypt({ password: 'hunter2-secret' }, owner)).not.toBe(stored);
  });

  it('refuses a ciphertext moved to another connector or tenant, or altered', () => {
    const cipher = new CredentialCipher(parseCredentialKeys(`k1:${key()}`));
    const stored = cipher.encrypt({ token: 't' }, owner);
    expect(() => cipher.decrypt(stored, { ...owner, connectorId: randomUUID() })).toThrow(CredentialDecryptionError);
    expect(() => cipher.decrypt(stored, { ...owner, tenantId: randomUUID() })).toThrow(CredentialDecryptionError);
    const parts = stored.split(':');
    parts[3] = Buffer.from('x' + Buffer.from(parts[3], 'base64url').toString('latin1').slice(1), 'latin1').toString('base64url');
    expect(() => cipher.decrypt(parts.join(':'), owner)).toThrow(CredentialDecryptionError);
    expect(() => cipher.decrypt('plaintext', owner)).toThrow(CredentialDecryptionError);
  });

  it('rotates: old ciphertexts decrypt while their key is listed; new ones use the current key', () => {
    const [a, b] = [key(), key()];
    const before = new CredentialCipher(parseCredentialKeys(`old:${a}`)).encrypt({ token: 't' }, owner);
    const rotated = new CredentialCipher(parseCredentialKeys(`old:${a},new:${b}`, 'new'));
    expect(rotated.decrypt(before, owner)).toEqual({ token: 't' });
    expect(keyIdOf(rotated.encrypt({ token: 't' }, owner))).toBe('new');
    const dropped = new CredentialCipher(parseCredentialKeys(`new:${b}`));
    expect(() => dropped.decrypt(before, owner)).toThrow(CredentialKeyMissingError);
  });

  it('refuses malformed key lists, naming the problem', () => {
    expect(() => parseCredentialKeys('')).toThrow(/at least one/);
    expect(() => parseCredentialKeys(key())).toThrow(/entry 1 must be <id>:<base64 key>/);
    expect(() => parseCredentialKeys(`k1:${randomBytes(16).toString('base64')}`)).toThrow(/key k1 must be 32 bytes/);
    expect(() => parseCredentialKeys(`k1:${key()},k1:${key()}`)).toThrow(/listed twice/);
    expect(() => parseCredentialKeys(`k1:${key()}`, 'k2')).toThrow(/CONNECTOR_CREDENTIALS_KEY_ID k2 is not one of/);
  });
});
