import { checkAnnotationsMatchBody, fillTemplate, parseAnnotations, placeholdersIn, PlaceholderProblem, resolveValues, sampleValues } from './template-placeholders';

const problem = (work: () => unknown) => {
  try {
    work();
  } catch (error) {
    if (error instanceof PlaceholderProblem) return { field: error.field, message: error.message };
    throw error;
  }
  throw new Error('expected a PlaceholderProblem');
};

describe('template placeholders', () => {
  it('finds placeholders once each, in order, with blanks inside the braces', () => {
    expect(placeholdersIn('const a = {{ domain }}; const b = {{max}}; f({{domain}}); {{ 1bad }} {x}')).toEqual(['domain', 'max']);
  });

  it('reads annotations as a list, an object keyed by name, or either as a JSON string', () => {
    const list = [{ name: 'domain', type: 'string', description: 'Mail domain', required: true }, { name: 'max', type: 'integer', default: 20 }];
    const expected = [
      { name: 'domain', type: 'string', description: 'Mail domain', required: true },
      { name: 'max', type: 'integer', description: null, required: true, default: 20 },
    ];
    expect(parseAnnotations(list)).toEqual(expected);
    expect(parseAnnotations(JSON.stringify(list))).toEqual(expected);
    expect(parseAnnotations({ domain: { type: 'string', description: 'Mail domain', required: true }, max: { type: 'integer', default: 20 } })).toEqual(expected);
    expect(parseAnnotations([{ name: 'x' }])).toEqual([{ name: 'x', type: 'string', description: null, required: true }]);
    expect(parseAnnotations([{ name: 'cfg', type: 'json', default: null }])[0]).toHaveProperty('default', null);
  });

  it.each([
    ['not json', /JSON/],
    [42, /array or object/],
    [[{ name: '1x' }], /placeholder name/],
    [[{ name: 'a' }, { name: 'a' }], /described twice/],
    [[{ name: 'a', type: 'date' }], /type must be one of/],
    [[{ name: 'a', type: 'integer', default: 1.5 }], /default must be an integer/],
    [[{ name: 'a', required: 'yes' }], /required must be true or false/],
    [[{ name: 'a', label: 'A' }], /unknown annotation key label/],
    [{ a: 'string' }, /must be an object/],
    [{ a: { name: 'b' } }, /the key is its name/],
  ])('refuses annotations %j', (input, message) => {
    const found = problem(() => parseAnnotations(input));
    expect(found.field).toBe('placeholder_annotations');
    expect(found.message).toMatch(message);
  });

  it('requires annotations to describe exactly the placeholders of the body', () => {
    const body = 'const a = {{domain}}; const b = {{max}};';
    expect(() => checkAnnotationsMatchBody(body, parseAnnotations([{ name: 'domain' }, { name: 'max', type: 'integer' }]))).not.toThrow();
    expect(problem(() => checkAnnotationsMatchBody(body, parseAnnotations([{ name: 'domain' }, { name: 'max' }, { name: 'extra' }]))).message).toMatch(/describes \{\{extra\}\}, which template_body does not use/);
    expect(problem(() => checkAnnotationsMatchBody(body, parseAnnotations([{ name: 'domain' }]))).message).toMatch(/uses \{\{max\}\}, which placeholder_annotations does not describe/);
  });

  it('resolves values: given, else default, else null when optional; required ones must be given', () => {
    const annotations = parseAnnotations([
      { name: 'domain', type: 'string' },
      { name: 'max', type: 'integer', default: 20 },
      { name: 'note', type: 'string', required: false },
      { name: 'cfg', type: 'json', required: false, default: { a: 1 } },
    ]);
    expect(resolveValues(annotations, { domain: 'corp.example' })).toEqual({ domain: 'corp.example', max: 20, note: null, cfg: { a: 1 } });
    expect(resolveValues(annotations, { domain: 'x', max: 5, note: null, cfg: [1] })).toEqual({ domain: 'x', max: 5, note: null, cfg: [1] });
    expect(problem(() => resolveValues(annotations, {}))).toEqual({ field: 'placeholder_values.domain', message: expect.stringMatching(/is required/) });
    expect(problem(() => resolveValues(annotations, { domain: 'x', max: '5' }))).toEqual({ field: 'placeholder_values.max', message: 'placeholder_values.max must be an integer' });
    expect(problem(() => resolveValues(annotations, { domain: 'x', colour: 'red' })).field).toBe('placeholder_values.colour');
  });

  it('fills placeholders with JavaScript literals, so a value can never become code', () => {
    const body = 'const d = {{domain}}; const n = {{max}}; const on = {{on}}; const m = {{ map }};';
    const filled = fillTemplate(body, { domain: '"; process.exit(1); "', max: 20, on: false, map: { a: [1, 'b'] } });
    expect(filled).toBe('const d = "\\"; process.exit(1); \\""; const n = 20; const on = false; const m = {"a":[1,"b"]};');
    expect(fillTemplate('x = {{a}}', { a: null })).toBe('x = null');
  });

  it('offers a sample value of each type for templates without defaults', () => {
    expect(sampleValues(parseAnnotations([{ name: 's' }, { name: 'n', type: 'number' }, { name: 'i', type: 'integer' }, { name: 'b', type: 'boolean' }, { name: 'j', type: 'json' }, { name: 'd', default: 'x' }]))).toEqual({
      s: 'sample',
      n: 1.5,
      i: 1,
      b: true,
      j: {},
      d: 'x',
    });
  });
});
