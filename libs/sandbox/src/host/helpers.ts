// The helpers a script reaches as `helpers.*`: the string and date work hooks keep re-implementing.
// They run in the host (called from the VM with JSON arguments), so they must treat every argument as
// untrusted: coerce, bound sizes, and throw plain `Error`s whose message the script sees.
import { domainToASCII } from 'node:url';
import { transliterate as transliterateLib } from 'transliteration';

/** Longest string a helper accepts; a hook has no business sending more. */
const MAX_HELPER_INPUT = 64 * 1024;

function text(value: unknown, name: string): string {
  if (value === null || value === undefined) return '';
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
    throw new TypeError(`${name} must be a string`);
  }
  const s = String(value);
  if (s.length > MAX_HELPER_INPUT) throw new RangeError(`${name} is longer than ${MAX_HELPER_INPUT} characters`);
  return s;
}

/** Trims and collapses every run of whitespace to one space (NFC-normalised). */
export function normalize(value: unknown): string {
  return text(value, 'normalize(str)').normalize('NFC').replace(/\s+/gu, ' ').trim();
}

/** To plain ASCII: `é`→`e`, `ß`→`ss`, `ø`→`o`, `Ł`→`L`, `æ`→`ae`, Cyrillic and Greek to Latin. */
export function transliterate(value: unknown): string {
  return transliterateLib(text(value, 'transliterate(str)').normalize('NFC'), { unknown: '' });
}

/** `"Zoë  O'Brien"` → `"zoe-obrien"`: lower-case ASCII words joined by `separator` (default `-`). */
export function slugify(value: unknown, separator: unknown = '-'): string {
  const sep = separator === undefined || separator === null ? '-' : text(separator, 'slugify(str, separator)');
  if (!/^[-_.]?$/.test(sep)) throw new RangeError('slugify separator must be one of "-", "_", "." or ""');
  const words = transliterate(value)
    .toLowerCase()
    .replace(/['’`]/g, '')
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  return words.join(sep);
}

/** One name part for a username or an email local part: ASCII letters and digits only. */
function namePart(value: unknown, name: string): string {
  return transliterate(normalize(text(value, name)))
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');
}

const USERNAME_FORMATS: Record<string, string> = {
  'first.last': '{first}.{last}',
  first_last: '{first}_{last}',
  'first-last': '{first}-{last}',
  firstlast: '{first}{last}',
  flast: '{f}{last}',
  'f.last': '{f}.{last}',
  firstl: '{first}{l}',
  'last.first': '{last}.{first}',
  lastf: '{last}{f}',
  first: '{first}',
  last: '{last}',
};

export interface UsernameOptions {
  first?: unknown;
  last?: unknown;
  middle?: unknown;
  /** A preset (`first.last`, `flast`, `f.last`, `firstl`, `first_last`, `last.first` ...) or a template with `{first}`, `{last}`, `{middle}`, `{f}`, `{l}`, `{m}`. Default `first.last`. */
  format?: unknown;
  maxLength?: unknown;
}

/** Builds a lower-case ASCII username from name parts: `username({ first: 'José', last: 'Müller' })` → `jose.muller`. */
export function username(options: UsernameOptions): string {
  if (!options || typeof options !== 'object') throw new TypeError('username({ first, last, format }) expects an object');
  const first = namePart(options.first, 'first');
  const last = namePart(options.last, 'last');
  const middle = namePart(options.middle, 'middle');
  const format = options.format === undefined || options.format === null ? 'first.last' : text(options.format, 'format');
  const template = USERNAME_FORMATS[format] ?? format;
  if (!/\{(first|last|middle|f|l|m)\}/.test(template)) {
    throw new RangeError(`unknown username format "${format}" (use ${Object.keys(USERNAME_FORMATS).join(', ')} or a template such as "{f}{last}")`);
  }
  const parts: Record<string, string> = { first, last, middle, f: first.slice(0, 1), l: last.slice(0, 1), m: middle.slice(0, 1) };
  let out = template
    .replace(/\{(first|last|middle|f|l|m)\}/g, (_, key: string) => parts[key])
    .toLowerCase()
    .replace(/[^a-z0-9._-]/g, '')
    .replace(/([._-])[._-]+/g, '$1')
    .replace(/^[._-]+|[._-]+$/g, '');
  if (options.maxLength !== undefined && options.maxLength !== null) {
    const max = Number(options.maxLength);
    if (!Number.isInteger(max) || max < 1) throw new RangeError('maxLength must be a positive integer');
    out = out.slice(0, max).replace(/[._-]+$/g, '');
  }
  if (!out) throw new RangeError('username needs at least a first or a last name');
  return out;
}

/** `email('José.Müller', 'Example.COM')` → `jose.muller@example.com`; the local part is transliterated and cleaned, the domain IDN-encoded. */
export function email(local: unknown, domain: unknown): string {
  const cleanLocal = transliterate(normalize(text(local, 'email(local)')))
    .toLowerCase()
    .replace(/\s+/g, '.')
    .replace(/[^a-z0-9._+-]/g, '')
    .replace(/\.{2,}/g, '.')
    .replace(/^\.+|\.+$/g, '');
  if (!cleanLocal) throw new RangeError('email local part is empty after cleaning');
  if (cleanLocal.length > 64) throw new RangeError('email local part is longer than 64 characters');
  const rawDomain = normalize(text(domain, 'email(domain)')).toLowerCase().replace(/^@/, '');
  const asciiDomain = domainToASCII(rawDomain);
  if (!asciiDomain || !/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(asciiDomain)) throw new RangeError(`"${rawDomain}" is not a valid email domain`);
  return `${cleanLocal}@${asciiDomain}`;
}

const DATE_TOKENS = /YYYY|YY|MM|DD|HH|mm|ss|SSS|\[[^\]]*\]/g;

/**
 * Formats a date in UTC. `pattern`: `ISO` (default, `toISOString`), or tokens `YYYY YY MM DD HH mm ss SSS`
 * with any other characters kept and `[literal]` escaped: `formatDate(d, 'YYYYMMDD')`.
 */
export function formatDate(value: unknown, pattern: unknown = 'ISO'): string {
  let date: Date;
  if (value === undefined || value === null) date = new Date();
  else if (typeof value === 'number') date = new Date(value);
  else if (typeof value === 'string') date = new Date(text(value, 'formatDate(date)'));
  else throw new TypeError('formatDate(date) expects an ISO string or epoch milliseconds');
  if (Number.isNaN(date.getTime())) throw new RangeError(`formatDate: "${String(value)}" is not a valid date`);
  const fmt = pattern === undefined || pattern === null ? 'ISO' : text(pattern, 'formatDate(pattern)');
  if (fmt === 'ISO') return date.toISOString();
  if (fmt.length > 100) throw new RangeError('formatDate pattern is longer than 100 characters');
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const year = date.getUTCFullYear();
  const tokens: Record<string, string> = {
    YYYY: pad(year, 4),
    YY: pad(year % 100),
    MM: pad(date.getUTCMonth() + 1),
    DD: pad(date.getUTCDate()),
    HH: pad(date.getUTCHours()),
    mm: pad(date.getUTCMinutes()),
    ss: pad(date.getUTCSeconds()),
    SSS: pad(date.getUTCMilliseconds(), 3),
  };
  return fmt.replace(DATE_TOKENS, (token) => (token.startsWith('[') ? token.slice(1, -1) : tokens[token]));
}

type Helper = (...args: unknown[]) => unknown;

/** The table the VM's `helpers` object is generated from; the names are part of HOST_API_VERSION. */
export const HELPERS: Readonly<Record<string, Helper>> = Object.freeze({
  normalize: (value) => normalize(value),
  transliterate: (value) => transliterate(value),
  slugify: (value, separator) => slugify(value, separator),
  username: (options) => username(options as UsernameOptions),
  email: (local, domain) => email(local, domain),
  formatDate: (value, pattern) => formatDate(value, pattern),
});

export const HELPER_NAMES: readonly string[] = Object.freeze(Object.keys(HELPERS));
