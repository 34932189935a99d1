// SCIM filters (RFC 7644 §3.4.2.2) for the fixture server: parsed with scim2-parse-filter and matched with
// its Tester, with the two places where neither library follows the RFC mended here:
// - compValue strings are JSON strings (RFC 7644's ABNF takes `string` from RFC 7159): `\"`, `\\`, `\u0000`
//   are escapes. scimmy's own Filter does not parse `\"` at all and scim2-parse-filter doubles every other
//   backslash, so string literals are lifted out and decoded with JSON.parse before the library sees them;
// - string comparisons are case-insensitive (caseExact is false for the attributes this server keeps,
//   RFC 7643 §2.3.1), and dates compare as instants, not as text.
'use strict';
const { parse, Tester } = require('scim2-parse-filter');

const STRING_LITERAL = /"(?:[^"\\]|\\.)*"/g;

class FilterError extends Error {
  constructor(message) {
    super(message);
    this.scimType = 'invalidFilter';
  }
}

/** Parses a filter; throws FilterError (400 invalidFilter) on bad syntax. */
function parseFilter(text) {
  if (typeof text !== 'string' || !text.trim()) throw new FilterError('the filter is empty');
  if (text.length > 10_000) throw new FilterError('the filter is longer than 10,000 characters');
  const literals = [];
  const lifted = text.replace(STRING_LITERAL, (literal) => {
    let value;
    try {
      value = JSON.parse(literal);
    } catch {
      throw new FilterError(`bad string literal ${literal.slice(0, 60)}`);
    }
    literals.push(value);
    return `"\ue000${literals.length - 1}"`;
  });
  let ast;
  try {
    ast = parse(lifted);
  } catch (error) {
    throw new FilterError(`bad filter: ${error.message}`);
  }
  return restore(ast, literals);
}

function restore(node, literals) {
  if (!node || typeof node !== 'object') return node;
  if (typeof node.compValue === 'string' && node.compValue.startsWith('\ue000')) node.compValue = literals[Number(node.compValue.slice(1))];
  if (node.filters) node.filters = node.filters.map((f) => restore(f, literals));
  if (node.filter) node.filter = restore(node.filter, literals);
  if (node.valFilter) node.valFilter = restore(node.valFilter, literals);
  return node;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

function comparable(a, b) {
  if (typeof a === 'string' && typeof b === 'string') {
    if (ISO_DATE.test(a) && ISO_DATE.test(b)) return [Date.parse(a), Date.parse(b)];
    return [a.toLowerCase(), b.toLowerCase()];
  }
  return [a, b];
}

class ScimTester extends Tester {
  eq(r, v) {
    const [a, b] = comparable(r, v);
    return a === b;
  }
  ne(r, v) {
    return !this.eq(r, v);
  }
  gt(r, v) {
    const [a, b] = comparable(r, v);
    return v !== null && a > b;
  }
  ge(r, v) {
    const [a, b] = comparable(r, v);
    return v !== null && a >= b;
  }
  lt(r, v) {
    const [a, b] = comparable(r, v);
    return v !== null && a < b;
  }
  le(r, v) {
    const [a, b] = comparable(r, v);
    return v !== null && a <= b;
  }
  sw(r, v) {
    return typeof r === 'string' && typeof v === 'string' && r.toLowerCase().startsWith(v.toLowerCase());
  }
  ew(r, v) {
    return typeof r === 'string' && typeof v === 'string' && r.toLowerCase().endsWith(v.toLowerCase());
  }
  co(r, v) {
    return typeof r === 'string' && typeof v === 'string' && r.toLowerCase().includes(v.toLowerCase());
  }
}

const tester = new ScimTester();

/** A predicate over resources (their SCIM JSON) for a parsed filter. */
function matcher(ast) {
  return (resource) => tester.test(resource, ast);
}

module.exports = { parseFilter, matcher, FilterError };
