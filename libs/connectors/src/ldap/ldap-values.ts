/**
 * Attribute values between Provisio (AttributeValue) and LDAP (lists of strings), generalized time, and the
 * LDAP search cursor's encoding.
 */
import { AttributeValue, Attributes } from '../connector';
import { ConnectorError, ConnectorErrorCode } from '../connector-errors';

/** An attribute's values as LDAP strings: null → none (removes the attribute), booleans → TRUE/FALSE. */
export function toLdapValues(name: string, value: AttributeValue): string[] {
  if (value === null) return [];
  if (Array.isArray(value)) return value.flatMap((item) => toLdapValues(name, item));
  switch (typeof value) {
    case 'string':
      return [wellFormed(name, value)];
    case 'number':
      if (!Number.isFinite(value)) throw new ConnectorError(ConnectorErrorCode.InvalidAttribute, `${name}: ${value} is not a value LDAP can hold`, { attribute: name });
      return [String(value)];
    case 'boolean':
      return [value ? 'TRUE' : 'FALSE'];
    default:
      throw new ConnectorError(ConnectorErrorCode.InvalidAttribute, `${name}: an object is not an LDAP value (map its fields to attributes)`, { attribute: name });
  }
}

/** A lone UTF-16 surrogate has no UTF-8 form: it would reach the server as U+FFFD, silently changed. */
export function wellFormed(name: string, value: string): string {
  if (/\p{Cs}/u.test(value)) throw new ConnectorError(ConnectorErrorCode.InvalidAttribute, `${name}: the value holds a lone UTF-16 surrogate`, { attribute: name });
  return value;
}

/** An entry's attribute as Provisio reads it: one value → a string, several → an array. */
export function fromLdapValues(values: string | string[] | Buffer | Buffer[]): AttributeValue {
  const list = (Array.isArray(values) ? values : [values]).map((v) => (Buffer.isBuffer(v) ? v.toString('base64') : v));
  return list.length === 1 ? list[0] : list;
}

/** Case-insensitive attribute lookup (LDAP attribute names are). */
export function attributeOf(attributes: Attributes, name: string): AttributeValue | undefined {
  if (name in attributes) return attributes[name];
  const lower = name.toLowerCase();
  const found = Object.keys(attributes).find((key) => key.toLowerCase() === lower);
  return found === undefined ? undefined : attributes[found];
}

const GENERALIZED_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})?(\d{2})?(?:[.,](\d+))?(Z|[+-]\d{2}(?:\d{2})?)$/;

/** Milliseconds since the epoch of an LDAP generalized time (RFC 4517 §3.3.13), or null when it is not one. */
export function parseGeneralizedTime(value: string): number | null {
  const match = GENERALIZED_TIME.exec(value);
  if (!match) return null;
  const [, y, mo, d, h, mi = '00', s = '00', fraction = '', zone] = match;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number(`0.${fraction || '0'}`) * 1000);
  if (zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const offset = Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5) || '0');
    ms -= sign * offset * 60_000;
  }
  return Number.isFinite(ms) ? Math.round(ms) : null;
}

/** `20261203121500.123Z`: the form modifyTimestamp filters compare against. */
export function formatGeneralizedTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '');
}

/**
 * Where a paged search resumes. Simple Paged Results cookies die with their connection, so a cursor names a
 * position instead: `n` is how many entries of the search's order came before the next one to deliver, and
 * `dn` the last one delivered. Delta searches also carry their start (`t`) and the newest modifyTimestamp
 * delivered so far (`m`), so the watermark of a resumed search is the one the whole search would have given.
 */
export interface LdapCursor {
  v: 1;
  n: number;
  dn: string;
  t?: number;
  m?: number | null;
}

export function encodeCursor(cursor: LdapCursor): string {
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

export function decodeCursor(text: string): LdapCursor {
  try {
    const cursor = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as LdapCursor;
    if (cursor.v === 1 && Number.isInteger(cursor.n) && cursor.n >= 0 && typeof cursor.dn === 'string') return cursor;
  } catch {
    // fall through
  }
  throw new ConnectorError(ConnectorErrorCode.BadRequest, 'not a cursor of an LDAP search');
}
