import { escapeDnValue, isUnder, normalizeDn, rdn, splitDn, unescapeDnValue } from './ldap-dn';

describe('RFC 4514 DN escaping', () => {
  it.each([
    ['plain', 'plain'],
    [',cn=admin', '\\,cn\\=admin'],
    ['a+b;c<d>e', 'a\\+b\\;c\\<d\\>e'],
    ['say "hi"', 'say \\"hi\\"'],
    ['back\\slash', 'back\\\\slash'],
    ['#leading', '\\#leading'],
    ['mid#dle', 'mid#dle'],
    [' both ', '\\ both\\ '],
    ['nul\u0000byte', 'nul\\00byte'],
    ['Zoë 山田', 'Zoë 山田'],
  ])('%j → %j', (value, escaped) => {
    expect(escapeDnValue(value)).toBe(escaped);
    expect(unescapeDnValue(escaped)).toBe(value);
  });

  it('an escaped value stays one RDN whatever it holds', () => {
    const dn = `${rdn('uid', '*)(uid=*,cn=admin+x=y')},ou=people,dc=example`;
    const rdns = splitDn(dn);
    expect(rdns).toHaveLength(3);
    expect(rdns[0]).toHaveLength(1);
    expect(unescapeDnValue(rdns[0][0][1])).toBe('*)(uid=*,cn=admin+x=y');
  });

  it('decodes hex escapes, UTF-8 sequences included', () => {
    expect(unescapeDnValue('Zo\\C3\\AB \\2C')).toBe('Zoë ,');
  });

  it('compares DNs without regard to case and spacing', () => {
    expect(normalizeDn('UID=Jo , OU=People,DC=Example')).toBe(normalizeDn('uid=jo,ou=people,dc=example'));
    expect(isUnder('uid=jo,ou=People,dc=example', 'DC=example')).toBe(true);
    expect(isUnder('uid=jo\\,dc=example,dc=other', 'dc=example')).toBe(false);
    expect(isUnder('dc=notexample', 'dc=example')).toBe(false);
  });

  it('refuses text that is not a DN', () => {
    expect(() => splitDn('no equals sign')).toThrow('not a DN');
  });
});
