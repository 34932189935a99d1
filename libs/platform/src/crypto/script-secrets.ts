import { z } from 'zod';
import { ConflictError } from '../errors/domain-errors';
import { parseKeyRing } from './key-ring';
import { SealedDecryptionError, SealedJsonCipher, SealedKeyMissingError } from './sealed-json';

/**
 * Secret values of script parameters (PASSWORD, and any parameter marked `is_secret`): sealed by the
 * registry (defaults, and the values of a run's input) and opened by the execution worker just before a
 * run. Their own key ring, `SCRIPT_SECRETS_KEYS`, rather than the connector credentials' one: the worker
 * runs tenants' code and must not hold the keys of every connector; the provisioning queue has no use
 * for scripts' secrets. Each ciphertext is bound to its tenant, script and parameter name.
 */
export const scriptSecretsEnv = {
  /** `<id>:<base64 of 32 bytes>[,…]`; without it no secret value can be stored or used (409). */
  SCRIPT_SECRETS_KEYS: z.string().optional(),
  /** The key new ciphertexts use (default: the first of SCRIPT_SECRETS_KEYS). */
  SCRIPT_SECRETS_KEY_ID: z.string().optional(),
};

const VARIABLES = { ring: 'SCRIPT_SECRETS_KEYS', current: 'SCRIPT_SECRETS_KEY_ID' };

export interface ScriptSecretOwner {
  tenantId: string;
  scriptId: string;
}

export class ScriptSecrets {
  private readonly cipher: SealedJsonCipher | null;

  /** Throws, naming the variable, on a malformed ring: a service refuses to boot with one. */
  constructor(env: { SCRIPT_SECRETS_KEYS?: string; SCRIPT_SECRETS_KEY_ID?: string }) {
    if (!env.SCRIPT_SECRETS_KEYS) {
      if (env.SCRIPT_SECRETS_KEY_ID) throw new Error('SCRIPT_SECRETS_KEY_ID needs SCRIPT_SECRETS_KEYS');
      this.cipher = null;
      return;
    }
    try {
      this.cipher = new SealedJsonCipher(parseKeyRing(env.SCRIPT_SECRETS_KEYS, env.SCRIPT_SECRETS_KEY_ID, VARIABLES), { purpose: 'script-secrets', what: 'secrets' });
    } catch (error) {
      const message = (error as Error).message;
      throw new Error(message.startsWith('SCRIPT_SECRETS') ? message : `SCRIPT_SECRETS_KEYS: ${message}`);
    }
  }

  get enabled(): boolean {
    return this.cipher !== null;
  }

  /** Seals one parameter's value; 409 naming the parameter when no keys are configured. */
  seal(owner: ScriptSecretOwner, parameter: string, value: unknown): string {
    return this.required(parameter).encrypt(value, [owner.tenantId, owner.scriptId, parameter]);
  }

  /** Opens a sealed value; 409 naming the parameter when it cannot be (missing key, altered, moved). */
  open(owner: ScriptSecretOwner, parameter: string, sealed: string): unknown {
    try {
      return this.required(parameter).decrypt(sealed, [owner.tenantId, owner.scriptId, parameter]);
    } catch (error) {
      if (error instanceof SealedKeyMissingError || error instanceof SealedDecryptionError) throw new ConflictError(`${parameter}: ${error.message}`, parameter);
      throw error;
    }
  }

  private required(parameter: string): SealedJsonCipher {
    if (!this.cipher) throw new ConflictError(`secret parameter ${parameter} needs SCRIPT_SECRETS_KEYS, which this deployment does not set`, parameter);
    return this.cipher;
  }
}
