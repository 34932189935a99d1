import { buildSchemaObjectClass, parseAttributeType, parseObjectClass } from './ldap-schema';
import { decodeCursor, encodeCursor, formatGeneralizedTime, fromLdapValues, parseGeneralizedTime, toLdapValues } from './ldap-values';

describe('LDAP values', () => {
  it('writes scalars and arrays as strings, and refuses objects', () => {
    expect(toLdapValues('a', 'x')).toEqual(['x']);
    expect(toLdapValues('a', 42)).toEqual(['42']);
    expect(toLdapValues('a', true)).toEqual(['TRUE']);
    expect(toLdapValues('a', ['x', 2, false])).toEqual(['x', '2', 'FALSE']);
    expect(toLdapValues('a', null)).toEqual([]);
    expect(() => toLdapValues('a', { nested: 'x' })).toThrow(expect.objectContaining({ code: 'invalid_attribute' }));
    expect(() => toLdapValues('a', Number.NaN)).toThrow(expect.objectContaining({ code: 'invalid_attribute' }));
  });

  it('reads one value as a string and several as an array', () => {
    expect(fromLdapValues('x')).toBe('x');
    expect(fromLdapValues(['x'])).toBe('x');
    expect(fromLdapValues(['x', 'y'])).toEqual(['x', 'y']);
  });

  it('parses and formats generalized time', () => {
    expect(parseGeneralizedTime('20261203121500.123Z')).toBe(Date.UTC(2026, 11, 3, 12, 15, 0, 123));
    expect(parseGeneralizedTime('20261203121500Z')).toBe(Date.UTC(2026, 11, 3, 12, 15, 0));
    expect(parseGeneralizedTime('202612031215Z')).toBe(Date.UTC(2026, 11, 3, 12, 15));
    expect(parseGeneralizedTime('20261203141500+0200')).toBe(Date.UTC(2026, 11, 3, 12, 15));
    expect(parseGeneralizedTime('yesterday')).toBeNull();
    expect(formatGeneralizedTime(Date.UTC(2026, 11, 3, 12, 15, 0, 5))).toBe('20261203121500.005Z');
  });

  it('round-trips cursors and refuses anything else', () => {
    const cursor = { v: 1 as const, n: 600, dn: 'uid=a\\,b,ou=people,dc=x', t: 1, m: 2 };
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
    expect(() => decodeCursor('garbage')).toThrow(expect.objectContaining({ code: 'bad_request' }));
    expect(() => decodeCursor(Buffer.from(JSON.stringify({ v: 1, n: -1, dn: 'x' })).toString('base64url'))).toThrow(expect.objectContaining({ code: 'bad_request' }));
  });
});

describe('LDAP subschema parsing', () => {
  const objectClasses = [
    "( 2.5.6.0 NAME 'top' ABSTRACT MUST objectClass )",
    "( 2.5.6.6 NAME 'person' SUP top STRUCTURAL MUST ( sn $ cn ) MAY ( userPassword $ telephoneNumber $ description ) )",
    "( 2.16.840.1.113730.3.2.2 NAME 'inetOrgPerson' SUP person STRUCTURAL MAY ( mail $ uid $ manager $ jpegPhoto ) )",
  ];
  const attributeTypes = [
    "( 2.5.4.41 NAME 'name' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{32768} )",
    "( 2.5.4.3 NAME ( 'cn' 'commonName' ) SUP name )",
    "( 2.5.4.4 NAME ( 'sn' 'surname' ) SUP name )",
    "( 0.9.2342.19200300.100.1.10 NAME 'manager' SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
    "( 0.9.2342.19200300.100.1.60 NAME 'jpegPhoto' SYNTAX 1.3.6.1.4.1.1466.115.121.1.28 )",
    "( 2.5.18.2 NAME 'modifyTimestamp' SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
  ];

  it('reads names, SUP, MUST and MAY lists', () => {
    expect(parseObjectClass(objectClasses[1])).toEqual({ names: ['person'], sup: ['top'], must: ['sn', 'cn'], may: ['userPassword', 'telephoneNumber', 'description'] });
    expect(parseAttributeType(attributeTypes[0])).toMatchObject({ names: ['name'], syntax: '1.3.6.1.4.1.1466.115.121.1.15', singleValue: false });
    expect(parseAttributeType(attributeTypes[5])).toMatchObject({ singleValue: true, noUserModification: true });
  });

  it('builds an object class with inherited attributes and syntaxes through SUP', () => {
    const built = buildSchemaObjectClass('account', ['top', 'person', 'inetOrgPerson'], objectClasses, attributeTypes);
    expect(built.nativeName).toBe('inetOrgPerson');
    const byName = Object.fromEntries(built.attributes.map((a) => [a.name, a]));
    expect(byName.cn).toMatchObject({ required: true, type: 'string' });
    expect(byName.mail).toMatchObject({ required: false });
    expect(byName.manager.type).toBe('reference');
    expect(byName.jpegPhoto.type).toBe('binary');
    expect(byName.objectClass).toBeUndefined();
  });
});

describe('untrusted strings', () => {
  it('refuses a lone surrogate instead of sending U+FFFD, and keeps paired ones', () => {
    expect(() => toLdapValues('cn', 'bad \ud800 value')).toThrow(expect.objectContaining({ code: 'invalid_attribute' }));
    expect(toLdapValues('cn', 'emoji 😀')).toEqual(['emoji 😀']);
  });
});
