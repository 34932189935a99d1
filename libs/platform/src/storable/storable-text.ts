/**
 * Text from outside (upstream events, script results and logs) made storable in PostgreSQL, which
 * rejects U+0000 in `text` and `jsonb` and unpaired UTF-16 surrogates in `jsonb` ("unsupported Unicode
 * escape sequence"). The one escaping, applied on every write path: each U+0000 and each unpaired
 * surrogate (in values and in object keys) becomes U+FFFD, the Unicode replacement character. Every
 * other character, control characters and very long strings included, is stored as it is.
 *
 * Ordinary text pays for one native scan: a string is only rebuilt when that scan finds something.
 */

export const REPLACEMENT_CHARACTER = '\uFFFD';

// eslint-disable-next-line no-control-regex -- matching U+0000 is the point
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/** In JSON text from JSON.stringify, a NUL or an unpaired surrogate is always written as such an escape. */
const ESCAPED_UNSTORABLE = /\\u(?:0000|[dD][89a-fA-F])/;

type WellFormed = { isWellFormed(): boolean };

/** True when PostgreSQL stores `s` as it is (no NUL, no unpaired surrogate). */
export function isStorableText(s: string): boolean {
  return !s.includes('\u0000') && (s as unknown as WellFormed).isWellFormed();
}

/** `s` with each NUL and unpaired surrogate replaced by U+FFFD; `s` itself when it has none. */
export function toStorableText(s: string): string {
  return isStorableText(s) ? s : s.replace(UNSTORABLE, REPLACEMENT_CHARACTER);
}

/** `toStorableText` for text that may be absent. */
export function toStorableTextOrNull(s: string | null | undefined): string | null {
  return s === null || s === undefined ? null : toStorableText(s);
}

/**
 * A JSON value with every string (and every object key) made storable; the value itself when nothing
 * needed it. Values that JSON cannot carry are left to JSON.stringify.
 */
export function toStorable<T>(value: T): T {
  return storable(value) as T;
}

function storable(value: unknown): unknown {
  if (typeof value === 'string') return toStorableText(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = storable(value[i]);
      if (item !== value[i]) (copy ??= value.slice())[i] = item;
    }
    return copy ?? value;
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return value; // dates and the like
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    const storedKey = toStorableText(key);
    const storedItem = storable(item);
    if (storedKey === key && storedItem === item) continue;
    if (!copy) copy = { ...(value as Record<string, unknown>) };
    if (storedKey !== key) delete copy[key];
    copy[storedKey] = storedItem;
  }
  return copy ?? value;
}

/**
 * JSON text of `value` that PostgreSQL accepts as `jsonb` (for `$n::jsonb` parameters and
 * `jsonb_to_recordset`). One stringify; the value is walked only when the text shows an escape to fix.
 */
export function toStorableJson(value: unknown): string {
  const json = JSON.stringify(value);
  return json !== undefined && json.includes('\\u') && ESCAPED_UNSTORABLE.test(json) ? JSON.stringify(storable(value)) : json;
}

/**
 * Parses JSON text (a message from outside) into a value whose strings are storable. Ordinary text costs
 * the parse and one search for an escape; NUL and unpaired surrogates can only arrive escaped (a raw NUL
 * is not JSON, and text decoded from UTF-8 has no unpaired surrogate).
 */
export function parseStorableJson(json: string): unknown {
  const value: unknown = JSON.parse(json);
  return json.includes('\\u') && ESCAPED_UNSTORABLE.test(json) ? storable(value) : value;
}

/**
 * Storable JSON text from JSON text (a message value, an outbox payload): the text itself when it
 * holds no escape PostgreSQL would reject, else parsed, made storable and written again.
 */
export function storableJsonText(json: string): string {
  return json.includes('\\u') && ESCAPED_UNSTORABLE.test(json) ? JSON.stringify(storable(JSON.parse(json))) : toStorableText(json);
}
