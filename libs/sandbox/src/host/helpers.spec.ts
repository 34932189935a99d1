import { email, formatDate, normalize, slugify, transliterate, username } from './helpers';

describe('script helpers', () => {
  it('normalize trims and collapses whitespace', () => {
    expect(normalize('  Jean \t  Luc\n Picard ')).toBe('Jean Luc Picard');
    expect(normalize(null)).toBe('');
    expect(normalize(42)).toBe('42');
  });

  it('transliterate maps common letters to ASCII', () => {
    expect(transliterate('José Müller')).toBe('Jose Muller');
    expect(transliterate('Straße')).toBe('Strasse');
    expect(transliterate('Søren Ærø')).toBe('Soren AEro');
    expect(transliterate('Łukasz Żółć')).toBe('Lukasz Zolc');
    expect(transliterate('æ ø')).toBe('ae o');
    expect(transliterate('Дмитрий')).toBe('Dmitriy');
    expect(transliterate('Γιώργος')).toBe('Giorgos');
  });

  it('slugify produces lower-case ASCII words', () => {
    expect(slugify("  Zoë O'Brien & Co. ")).toBe('zoe-obrien-co');
    expect(slugify('Ærø Straße', '_')).toBe('aero_strasse');
    expect(() => slugify('x', '/')).toThrow(/separator/);
  });

  it('username builds from name parts in the requested format', () => {
    expect(username({ first: 'José', last: 'Müller' })).toBe('jose.muller');
    expect(username({ first: 'José', last: 'Müller', format: 'flast' })).toBe('jmuller');
    expect(username({ first: 'Jean-Luc', last: "O'Brien", format: 'f.last' })).toBe('j.obrien');
    expect(username({ first: 'Anna', last: 'Łęcka', format: '{last}_{f}' })).toBe('lecka_a');
    expect(username({ first: 'Christopher', last: 'Montgomery', maxLength: 12 })).toBe('christopher');
    expect(username({ first: '', last: 'Solo' })).toBe('solo');
    expect(() => username({ first: '', last: '' })).toThrow(/at least/);
    expect(() => username({ first: 'a', last: 'b', format: 'nonsense' })).toThrow(/unknown username format/);
  });

  it('email cleans the local part and IDN-encodes the domain', () => {
    expect(email('José.Müller', 'Example.COM')).toBe('jose.muller@example.com');
    expect(email('jean luc', 'bücher.de')).toBe('jean.luc@xn--bcher-kva.de');
    expect(() => email('', 'example.com')).toThrow(/empty/);
    expect(() => email('a', 'not a domain')).toThrow(/valid email domain/);
  });

  it('formatDate formats in UTC with a small token set', () => {
    const at = Date.UTC(2024, 1, 29, 8, 5, 9, 7);
    expect(formatDate(at)).toBe('2024-02-29T08:05:09.007Z');
    expect(formatDate(at, 'YYYY-MM-DD')).toBe('2024-02-29');
    expect(formatDate('2024-02-29T08:05:09.007Z', 'YYYYMMDD')).toBe('20240229');
    expect(formatDate(at, 'DD.MM.YY HH:mm:ss.SSS [UTC]')).toBe('29.02.24 08:05:09.007 UTC');
    expect(() => formatDate('not a date')).toThrow(/not a valid date/);
    expect(() => formatDate({})).toThrow(TypeError);
  });
});
