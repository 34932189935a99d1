/**
 * SearchFilter → SCIM filter text (RFC 7644 §3.4.2.2), through scim2-parse-filter's AST and stringify:
 * values become JSON literals (quotes, backslashes, NUL escaped as JSON), so a value is always data.
 * Attribute names are checked against the RFC's attrPath grammar, since they are syntax, not data.
 */
import { Filter, stringify } from 'scim2-parse-filter';
import { SearchFilter } from '../connector';
import { ConnectorError, ConnectorErrorCode } from '../connector-errors';

// attrPath = [URI ":"] ATTRNAME *1subAttr ; ATTRNAME = ALPHA *(nameChar); nameChar = "-" / "_" / DIGIT / ALPHA
const ATTR_PATH = /^(?:urn:[A-Za-z0-9._:-]+:)?[A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z][A-Za-z0-9_-]*)?$/;

export function assertAttributePath(name: string): string {
  if (!ATTR_PATH.test(name)) throw new ConnectorError(ConnectorErrorCode.InvalidAttribute, `'${name.slice(0, 100)}' is not a SCIM attribute path`, { attribute: name });
  return name;
}

export function toScimFilterAst(filter: SearchFilter): Filter {
  switch (filter.op) {
    case 'eq':
      return { op: 'eq', attrPath: assertAttributePath(filter.attribute), compValue: filter.value };
    case 'present':
      return { op: 'pr', attrPath: assertAttributePath(filter.attribute) };
    case 'and':
    case 'or': {
      if (filter.filters.length === 0) throw new ConnectorError(ConnectorErrorCode.BadRequest, `an '${filter.op}' filter needs at least one filter`);
      if (filter.filters.length === 1) return toScimFilterAst(filter.filters[0]);
      return { op: filter.op, filters: filter.filters.map(toScimFilterAst) };
    }
    default: {
      const unknown: never = filter;
      throw new ConnectorError(ConnectorErrorCode.BadRequest, `unknown filter ${JSON.stringify(unknown)}`);
    }
  }
}

export function toScimFilter(filter: SearchFilter): string {
  return stringifyFilter(toScimFilterAst(filter));
}

/** `and` of the given filters (undefined ones skipped), as text; undefined when none. */
export function andFilters(...filters: (Filter | undefined)[]): string | undefined {
  const present = filters.filter((f): f is Filter => f !== undefined);
  if (present.length === 0) return undefined;
  return stringifyFilter(present.length === 1 ? present[0] : { op: 'and', filters: present });
}

function stringifyFilter(ast: Filter): string {
  // stringify parenthesises an `or` inside an `and`; an `and` inside an `or` binds tighter already.
  return stringify(ast, false);
}
