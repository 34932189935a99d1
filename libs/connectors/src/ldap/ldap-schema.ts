/**
 * The connector's schema from the server's subschema subentry (RFC 4512 §4.2): the configured object classes
 * with their MUST/MAY attributes (SUP chains followed), each attribute's type from its syntax.
 */
import { ObjectClass, SchemaAttribute, SchemaObjectClass } from '../connector';

interface ObjectClassDefinition {
  names: string[];
  sup: string[];
  must: string[];
  may: string[];
}

interface AttributeTypeDefinition {
  names: string[];
  sup?: string;
  syntax?: string;
  singleValue: boolean;
  noUserModification: boolean;
}

/** Splits a definition `( 2.5.4.3 NAME ( 'cn' 'commonName' ) SUP name )` into tokens. */
function tokenize(definition: string): string[] {
  const tokens: string[] = [];
  const re = /\s*(\(|\)|'(?:[^'\\]|\\.)*'|[^\s()']+)/g;
  let match: RegExpExecArray | null;
  while ((match = re.exec(definition))) tokens.push(match[1]);
  return tokens;
}

/** Keyword → its values (a single token, a quoted string, or a parenthesised list; `$` separators dropped). */
function fields(definition: string): Map<string, string[]> {
  const tokens = tokenize(definition);
  const result = new Map<string, string[]>();
  // tokens[0] is '(' and tokens[1] the OID
  for (let i = 2; i < tokens.length; i++) {
    const keyword = tokens[i].toUpperCase();
    if (keyword === ')') break;
    const next = tokens[i + 1];
    if (next === '(') {
      const values: string[] = [];
      i += 2;
      while (i < tokens.length && tokens[i] !== ')') {
        if (tokens[i] !== '$') values.push(tokens[i].replace(/^'|'$/g, ''));
        i++;
      }
      result.set(keyword, values);
    } else if (next !== undefined && /^[A-Z][A-Z0-9-]*$/i.test(keyword) && !isKeyword(next)) {
      result.set(keyword, [next.replace(/^'|'$/g, '')]);
      i++;
    } else {
      result.set(keyword, []);
    }
  }
  return result;
}

const KEYWORDS = new Set(['NAME', 'DESC', 'OBSOLETE', 'SUP', 'ABSTRACT', 'STRUCTURAL', 'AUXILIARY', 'MUST', 'MAY', 'EQUALITY', 'ORDERING', 'SUBSTR', 'SYNTAX', 'SINGLE-VALUE', 'COLLECTIVE', 'NO-USER-MODIFICATION', 'USAGE']);
const isKeyword = (token: string) => KEYWORDS.has(token.toUpperCase()) || token.startsWith('X-') || token === ')';

export function parseObjectClass(definition: string): ObjectClassDefinition {
  const f = fields(definition);
  return { names: f.get('NAME') ?? [], sup: f.get('SUP') ?? [], must: f.get('MUST') ?? [], may: f.get('MAY') ?? [] };
}

export function parseAttributeType(definition: string): AttributeTypeDefinition {
  const f = fields(definition);
  return {
    names: f.get('NAME') ?? [],
    sup: f.get('SUP')?.[0],
    syntax: f.get('SYNTAX')?.[0]?.replace(/\{\d+\}$/, ''),
    singleValue: f.has('SINGLE-VALUE'),
    noUserModification: f.has('NO-USER-MODIFICATION'),
  };
}

const SYNTAX_TYPES: Record<string, SchemaAttribute['type']> = {
  '1.3.6.1.4.1.1466.115.121.1.27': 'integer',
  '1.3.6.1.4.1.1466.115.121.1.7': 'boolean',
  '1.3.6.1.4.1.1466.115.121.1.24': 'datetime',
  '1.3.6.1.4.1.1466.115.121.1.12': 'reference',
  '1.3.6.1.4.1.1466.115.121.1.5': 'binary',
  '1.3.6.1.4.1.1466.115.121.1.28': 'binary',
  '1.3.6.1.4.1.1466.115.121.1.40': 'binary',
  '1.3.6.1.4.1.1466.115.121.1.8': 'binary',
};

/** One Provisio object class from the subschema's definitions. */
export function buildSchemaObjectClass(
  name: ObjectClass,
  objectClasses: string[],
  objectClassDefinitions: string[],
  attributeTypeDefinitions: string[],
): SchemaObjectClass {
  const classes = new Map<string, ObjectClassDefinition>();
  for (const definition of objectClassDefinitions) {
    const parsed = parseObjectClass(definition);
    for (const n of parsed.names) classes.set(n.toLowerCase(), parsed);
  }
  const types = new Map<string, AttributeTypeDefinition>();
  for (const definition of attributeTypeDefinitions) {
    const parsed = parseAttributeType(definition);
    for (const n of parsed.names) types.set(n.toLowerCase(), parsed);
  }
  const must = new Map<string, string>();
  const may = new Map<string, string>();
  const visited = new Set<string>();
  const visit = (className: string) => {
    const key = className.toLowerCase();
    if (visited.has(key)) return;
    visited.add(key);
    const definition = classes.get(key);
    if (!definition) return;
    for (const a of definition.must) must.set(a.toLowerCase(), a);
    for (const a of definition.may) may.set(a.toLowerCase(), a);
    definition.sup.forEach(visit);
  };
  objectClasses.forEach(visit);

  const resolve = (attribute: string, depth = 0): AttributeTypeDefinition | undefined => {
    const definition = types.get(attribute.toLowerCase());
    if (!definition || definition.syntax || !definition.sup || depth > 10) return definition;
    const parent = resolve(definition.sup, depth + 1);
    return { ...definition, syntax: parent?.syntax };
  };
  const attributes: SchemaAttribute[] = [];
  for (const key of new Set([...must.keys(), ...may.keys()])) {
    if (key === 'objectclass') continue;
    const definition = resolve(must.get(key) ?? may.get(key)!);
    attributes.push({
      name: definition?.names[0] ?? must.get(key) ?? may.get(key)!,
      type: (definition?.syntax && SYNTAX_TYPES[definition.syntax]) || 'string',
      multiValued: !definition?.singleValue,
      required: must.has(key),
      readOnly: Boolean(definition?.noUserModification),
    });
  }
  return { name, nativeName: objectClasses[objectClasses.length - 1], attributes };
}
