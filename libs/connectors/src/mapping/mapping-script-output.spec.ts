import { checkScriptedAttributes, checkScriptedBatch, MAX_SCRIPTED_ATTRIBUTES } from './mapping-script-output';

describe('mapping script answers', () => {
  it('takes an object of attribute values', () => {
    expect(checkScriptedAttributes({ userName: 'zoe', 'name.givenName': 'Zoë', emails: ['a@b'], active: true, n: 1, manager: { id: 'x' }, gone: null })).toEqual({
      ok: true,
      attributes: { userName: 'zoe', 'name.givenName': 'Zoë', emails: ['a@b'], active: true, n: 1, manager: { id: 'x' }, gone: null },
    });
  });

  it.each([
    [undefined, /returned nothing/],
    [null, /returned nothing/],
    ['text', /returned a string/],
    [42, /returned a number/],
    [[{ userName: 'x' }], /returned an array/],
    [{ 'bad name': 'x' }, /attribute bad name: is not an attribute name/],
    [{ userName: 'x'.repeat(10_001) }, /attribute userName/],
    [Object.fromEntries(Array.from({ length: MAX_SCRIPTED_ATTRIBUTES + 1 }, (_, i) => [`a${i}`, i])), /more than 200 attributes/],
  ])('refuses %p with why', (output, reason) => {
    const checked = checkScriptedAttributes(output);
    expect(checked.ok).toBe(false);
    expect(!checked.ok && checked.reason).toMatch(reason);
  });

  it('a batch answer is one object per identity, in order', () => {
    expect(checkScriptedBatch([{ a: 1 }, { a: 2 }], 2)).toEqual({ ok: true, attributes: [{ a: 1 }, { a: 2 }] });
    expect(checkScriptedBatch({ a: 1 }, 1)).toEqual({ ok: false, reason: expect.stringContaining('must return an array') });
    expect(checkScriptedBatch([{ a: 1 }], 2)).toEqual({ ok: false, reason: 'a batch run returned 1 answers for 2 identities' });
    expect(checkScriptedBatch([{ a: 1 }, 'x'], 2)).toEqual({ ok: false, reason: 'answer 1: it returned a string, not an object of attributes' });
  });
});
