import { describeDataError, isDataError, sqlStateOf } from './data-errors';
import { isStorableText, parseStorableJson, REPLACEMENT_CHARACTER as R, storableJsonText, toStorable, toStorableJson, toStorableText } from './storable-text';

describe('storable text', () => {
  it('keeps ordinary text, control characters, emoji and long lines as they are (the same string)', () => {
    for (const s of ['', 'Zoë Łukasiewicz', 'tab\tbell\u0007esc\u001b\u007f', '😀 pair \uD83D\uDE00', 'x'.repeat(1_000_000)]) {
      expect(isStorableText(s)).toBe(true);
      expect(toStorableText(s)).toBe(s);
    }
  });

  it('replaces NUL and unpaired surrogates (high, low, at either end) by U+FFFD, and nothing else', () => {
    expect(toStorableText('a\u0000b')).toBe(`a${R}b`);
    expect(toStorableText('\uD800')).toBe(R);
    expect(toStorableText('x\uDC00y')).toBe(`x${R}y`);
    expect(toStorableText('\uDBFFz\uD83D\uDE00\uDFFF')).toBe(`${R}z\uD83D\uDE00${R}`);
    expect(toStorableText('\uDC00\uD800')).toBe(`${R}${R}`); // a low before a high is no pair
  });

  it('walks values and keys, copying only what changes', () => {
    const untouched = { a: [1, 'two', { three: null }], b: true };
    expect(toStorable(untouched)).toBe(untouched);
    const input = { 'k\u0000': 'v\uD800', list: ['ok', 'n\u0000'], keep: { x: 1 } };
    const out = toStorable(input);
    expect(out).toEqual({ [`k${R}`]: `v${R}`, list: ['ok', `n${R}`], keep: { x: 1 } });
    expect(out.keep).toBe(input.keep);
    expect(input['k\u0000']).toBe('v\uD800'); // the input is not modified
  });

  it('writes JSON text without the escapes PostgreSQL refuses, in one stringify for ordinary values', () => {
    expect(toStorableJson({ a: 'plain' })).toBe('{"a":"plain"}');
    expect(toStorableJson({ a: 'nul\u0000', b: '\uDC01' })).toBe(JSON.stringify({ a: `nul${R}`, b: R }));
    expect(toStorableJson({ backslash: '\\u0000 is text' })).toBe(JSON.stringify({ backslash: '\\u0000 is text' }));
    expect(toStorableJson(undefined)).toBeUndefined();
    expect(storableJsonText('{"a":"\\u0000","b":"\\ud800","c":"\\ud83d\\ude00"}')).toBe(JSON.stringify({ a: R, b: R, c: '😀' }));
    expect(storableJsonText('{"a":"ok"}')).toBe('{"a":"ok"}');
  });

  it('parses message text into storable values', () => {
    expect(parseStorableJson('{"k\\u0000":["\\udfff","\\\\u0000"]}')).toEqual({ [`k${R}`]: [R, '\\u0000'] });
    expect(() => parseStorableJson('{')).toThrow(SyntaxError);
  });
});

describe('data errors', () => {
  it('are SQLSTATE classes 22 and 23 and 54000, read from the error or its driver error', () => {
    expect(isDataError({ code: '22P05' })).toBe(true);
    expect(isDataError({ driverError: { code: '23505' } })).toBe(true);
    expect(isDataError({ code: '54000' })).toBe(true);
    expect(isDataError({ code: '40001' })).toBe(false);
    expect(isDataError({ code: 'ECONNREFUSED' })).toBe(false);
    expect(isDataError(new Error('no code'))).toBe(false);
    expect(sqlStateOf(null)).toBeUndefined();
  });

  it('are described with their SQLSTATE, storable and bounded', () => {
    const error = Object.assign(new Error('bad \u0000 value'), { code: '22021' });
    expect(describeDataError(error)).toBe(`22021: bad ${R} value`);
    expect(describeDataError(Object.assign(new Error('x'.repeat(5_000)), { code: '22001' }), 100)).toHaveLength(101);
  });
});
