import { validate } from './validate';

describe('validate', () => {
  it('accepts a well-formed handler without warnings', async () => {
    await expect(validate('export default async (ctx) => ({ ok: ctx.input })')).resolves.toEqual({ valid: true, errors: [], warnings: [] });
    await expect(validate('export default async function main(ctx) { return 1 }')).resolves.toMatchObject({ valid: true, warnings: [] });
    await expect(validate('async function h(ctx) { return 1 }\nexport { h as default }')).resolves.toMatchObject({ valid: true, warnings: [] });
    await expect(validate('const h = async (ctx) => 1;\nexport default h;')).resolves.toMatchObject({ valid: true, warnings: [] });
  });

  it('reports syntax errors with line and column', async () => {
    const result = await validate('export default async (ctx) => {\n  const x = ;\n}');
    expect(result.valid).toBe(false);
    expect(result.errors).toEqual([{ line: 2, column: 13, message: expect.stringMatching(/SyntaxError/) }]);
  });

  it('reports an unterminated block on its line', async () => {
    const result = await validate('export default async (ctx) => {\n  if (ctx) {\n    return 1;\n');
    expect(result.valid).toBe(false);
    expect(result.errors[0].line).toBeGreaterThanOrEqual(3);
    expect(result.errors[0].column).toBeGreaterThanOrEqual(1);
  });

  it('warns when there is no default export function', async () => {
    const none = await validate('const x = 1;');
    expect(none.valid).toBe(true);
    expect(none.warnings).toEqual([{ message: expect.stringMatching(/no default export/) }]);
    const notFn = await validate('export default 42;');
    expect(notFn.warnings[0]).toMatchObject({ line: 1, column: 1, message: expect.stringMatching(/not \(statically\) a function/) });
  });

  it('refuses imports, which the sandbox cannot satisfy', async () => {
    const result = await validate("import fs from 'fs';\nexport default async () => fs;");
    expect(result.valid).toBe(false);
    expect(result.errors[0]).toMatchObject({ line: 1, column: 1, message: expect.stringMatching(/cannot import/) });
  });

  it('does not run the script', async () => {
    const result = await validate('for (;;) {}\nexport default async () => 1;');
    expect(result.valid).toBe(true);
  });

  it('survives absurd nesting and oversized input', async () => {
    const deep = `export default async () => ${'('.repeat(50000)}1${')'.repeat(50000)};`;
    const nested = await validate(deep);
    expect(nested.valid).toBe(false);
    expect(nested.errors[0].message).toMatch(/nests too deeply|stack overflow/i);
    const big = await validate(`export default async () => 1;\n//${'x'.repeat(1024 * 1024)}`);
    expect(big).toMatchObject({ valid: false, errors: [{ line: 1, column: 1, message: expect.stringMatching(/larger than/) }] });
    // and the engine still works afterwards
    await expect(validate('export default async () => 1')).resolves.toMatchObject({ valid: true });
  });

  it('is fast enough for an HTTP API', async () => {
    const source = `export default async (ctx) => {\n${'  const a = ctx.identity?.first ?? "x";\n'.repeat(200)}  return a;\n}`;
    await validate(source);
    const started = Date.now();
    for (let i = 0; i < 20; i++) await validate(source);
    expect((Date.now() - started) / 20).toBeLessThan(25);
  });
});
