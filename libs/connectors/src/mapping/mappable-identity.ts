/**
 * What mappings and policies read of an identity: the identity store's row as the provisioning queue,
 * the reconciler and the connector API's preview all hand it in. Declared here (not imported from the
 * persistence lib) because libs/connectors depends on nothing of Provisio's.
 */
export interface MappableIdentity {
  id?: string;
  username: string;
  email?: string | null;
  display_name?: string | null;
  status: string;
  source_user_id?: string | null;
  attributes: Record<string, unknown>;
}

/** The top-level fields a path may name; anything else is under `attributes.` */
export const IDENTITY_FIELDS = ['id', 'username', 'email', 'display_name', 'status', 'source_user_id'] as const;

/**
 * A path into an identity: a top-level field (`username`, `email` …) or `attributes.<name>[.<name>…]`
 * (`attributes.department`, `attributes.manager.id`).
 */
export const IDENTITY_PATH = /^(?:id|username|email|display_name|status|source_user_id|attributes(?:\.[A-Za-z0-9_$-]{1,100}){1,5})$/;

/** The value at `path`, or undefined when it is absent (a missing attribute, or a step through a non-object). */
export function readIdentityPath(identity: MappableIdentity, path: string): unknown {
  const [head, ...rest] = path.split('.');
  let value: unknown = (identity as unknown as Record<string, unknown>)[head];
  for (const step of rest) {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.prototype.hasOwnProperty.call(value, step)) return undefined;
    value = (value as Record<string, unknown>)[step];
  }
  return value;
}
