/**
 * DN building and comparison per RFC 4514. ldapts's DN class does not escape NUL and quotes values with
 * leading or trailing spaces (an RFC 2253 form RFC 4514 dropped), so the values Provisio puts into DNs are
 * escaped here.
 */

/** Escapes an attribute value for a DN's RDN (RFC 4514 §2.4). Anything a caller gives is data, never syntax. */
export function escapeDnValue(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const char = value[i];
    const first = i === 0;
    const last = i === value.length - 1;
    if (char === '\0') out += '\\00';
    else if ('"+,;<>\\='.includes(char)) out += `\\${char}`;
    else if (first && (char === '#' || char === ' ')) out += `\\${char}`;
    else if (last && char === ' ') out += '\\ ';
    else out += char;
  }
  return out;
}

/** `attribute=value` with the value escaped; the attribute must be a plain attribute name. */
export function rdn(attribute: string, value: string): string {
  return `${attribute}=${escapeDnValue(value)}`;
}

/**
 * A DN's case- and spacing-insensitive comparison form: attribute names lowercased, spaces around `,` `=` `+`
 * outside values removed, hex escapes of printable characters decoded. Good enough to tell whether a DN lies
 * under a base DN; matching rules of particular attributes (e.g. case-exact values) are not applied.
 */
export function normalizeDn(dn: string): string {
  const rdns = splitDn(dn);
  return rdns
    .map((part) =>
      part
        .map(([name, value]) => `${name.trim().toLowerCase()}=${escapeDnValue(unescapeDnValue(value.trim())).toLowerCase()}`)
        .join('+'),
    )
    .join(',');
}

/** Whether `dn` is `base` or lies under it. */
export function isUnder(dn: string, base: string): boolean {
  const normalized = normalizeDn(dn);
  const normalizedBase = normalizeDn(base);
  return normalized === normalizedBase || normalized.endsWith(`,${normalizedBase}`);
}

/** The RDNs of a DN as [name, raw value] pairs (values still escaped). Throws on a DN it cannot split. */
export function splitDn(dn: string): Array<Array<[string, string]>> {
  const rdns: Array<Array<[string, string]>> = [];
  let current: Array<[string, string]> = [];
  let name = '';
  let value = '';
  let inValue = false;
  for (let i = 0; i < dn.length; i++) {
    const char = dn[i];
    if (char === '\\' && inValue) {
      value += char + (dn[i + 1] ?? '');
      i++;
    } else if (char === '=' && !inValue) {
      inValue = true;
    } else if ((char === ',' || char === ';' || char === '+') && inValue) {
      current.push([name, value]);
      name = '';
      value = '';
      inValue = false;
      if (char !== '+') {
        rdns.push(current);
        current = [];
      }
    } else if (inValue) value += char;
    else name += char;
  }
  if (!inValue && (name.trim() !== '' || current.length > 0)) throw new Error(`not a DN: '${dn}'`);
  if (inValue) {
    current.push([name, value]);
    rdns.push(current);
  }
  return rdns;
}

/** Decodes an escaped RDN value (`\,` `\2C` `\00`, UTF-8 hex sequences) to its characters. */
export function unescapeDnValue(value: string): string {
  return value.replace(/((?:\\[0-9a-fA-F]{2})+)|\\(.)/gsu, (_match, hex: string | undefined, char: string | undefined) =>
    hex ? Buffer.from(hex.replace(/\\/g, ''), 'hex').toString('utf8') : (char ?? ''),
  );
}
