/**
 * SearchFilter → ldapts filter objects. Values go into EqualityFilter (which escapes per RFC 4515 when it is
 * written out) and never into filter text, so `*)(uid=*` is a value like any other.
 */
import { AndFilter, EqualityFilter, Filter, OrFilter, PresenceFilter } from 'ldapts';
import { SearchFilter } from '../connector';
import { ConnectorError, ConnectorErrorCode } from '../connector-errors';
import { wellFormed } from './ldap-values';

/** An attribute description: a name (or OID) with options (`cn;lang-en`). */
const ATTRIBUTE = /^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)(?:;[A-Za-z0-9-]+)*$/;

export function checkAttributeName(name: string): string {
  if (!ATTRIBUTE.test(name)) {
    throw new ConnectorError(ConnectorErrorCode.InvalidAttribute, `'${name.slice(0, 80)}' is not an LDAP attribute name`, { attribute: name.slice(0, 80) });
  }
  return name;
}

export function filterValue(value: string | number | boolean): string {
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  return String(value);
}

export function toLdapFilter(filter: SearchFilter): Filter {
  switch (filter.op) {
    case 'eq':
      return new EqualityFilter({ attribute: checkAttributeName(filter.attribute), value: wellFormed(filter.attribute, filterValue(filter.value)) });
    case 'present':
      return new PresenceFilter({ attribute: checkAttributeName(filter.attribute) });
    case 'and':
      return new AndFilter({ filters: filter.filters.map(toLdapFilter) });
    case 'or':
      return new OrFilter({ filters: filter.filters.map(toLdapFilter) });
    default:
      throw new ConnectorError(ConnectorErrorCode.BadRequest, `unknown filter op '${(filter as { op: string }).op}'`);
  }
}
