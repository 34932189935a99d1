import { checkParameterDefinitions, checkScriptInput, inputErrorMessage, maskSecretInput, revealSecretInput, ScriptParameterDefinition, sealSecretInput } from './script-parameters';

const param = (p: Partial<ScriptParameterDefinition> & Pick<ScriptParameterDefinition, 'name' | 'type'>): ScriptParameterDefinition => ({
  required: false,
  is_secret: false,
  validation_rules: {},
  options: null,
  depends_on: null,
  depends_on_condition: null,
  ...p,
});

const failure = (params: ScriptParameterDefinition[], input: unknown) => {
  const check = checkScriptInput(params, input);
  return check.ok ? null : inputErrorMessage(check);
};

describe('script parameters (seed 004) as one JSON Schema per script', () => {
  it('checks every type and names the wrong parameter', () => {
    const params = [
      param({ name: 's', type: 'string', validation_rules: { pattern: '^[a-z]+$', min_length: 2, max_length: 5 } }),
      param({ name: 'i', type: 'integer', validation_rules: { min: 1, max: 10 } }),
      param({ name: 'f', type: 'float' }),
      param({ name: 'b', type: 'boolean' }),
      param({ name: 'j', type: 'json' }),
      param({ name: 'e', type: 'email' }),
      param({ name: 'u', type: 'url' }),
      param({ name: 'p', type: 'password' }),
      param({ name: 't', type: 'text' }),
      param({ name: 'sel', type: 'select', options: [{ value: 'ldap' }, { value: 'scim' }] }),
      param({ name: 'ms', type: 'multiselect', options: [{ value: 1 }, { value: 2 }] }),
      param({ name: 'file', type: 'file', validation_rules: { allowed_extensions: ['.csv'] } }),
      param({ name: 'd', type: 'date', validation_rules: { min: '2026-01-01' } }),
      param({ name: 'dt', type: 'datetime' }),
    ];
    const good = {
      s: 'abc', i: 3, f: 1.5, b: true, j: { any: [1] }, e: 'a@example.com', u: 'https://hr.example.com/x', p: 'pw', t: 'long\ntext',
      sel: 'ldap', ms: [1, 2], file: { name: 'people.CSV', content_base64: 'aGk=' }, d: '2026-02-03', dt: '2026-02-03T10:00:00Z',
    };
    expect(checkScriptInput(params, good)).toEqual({ ok: true, input: good });
    expect(failure(params, { ...good, s: 'ABC' })).toMatch(/^input\.s must match pattern/);
    expect(failure(params, { ...good, s: 'a' })).toMatch(/^input\.s must NOT have fewer than 2/);
    expect(failure(params, { ...good, i: 11 })).toMatch(/^input\.i must be <= 10/);
    expect(failure(params, { ...good, i: 1.5 })).toMatch(/^input\.i must be integer/);
    expect(failure(params, { ...good, b: 'yes' })).toMatch(/^input\.b must be boolean/);
    expect(failure(params, { ...good, e: 'not-an-email' })).toMatch(/^input\.e must match format "email"/);
    expect(failure(params, { ...good, u: 'ftp://x' })).toMatch(/^input\.u /);
    expect(failure(params, { ...good, sel: 'sql' })).toBe('input.sel must be one of ["ldap","scim"]');
    expect(failure(params, { ...good, ms: [1, 1] })).toMatch(/^input\.ms must NOT have duplicate/);
    expect(failure(params, { ...good, file: { name: 'x.exe', content_base64: 'aGk=' } })).toMatch(/^input\.file must match pattern .* \(at name\)/);
    expect(failure(params, { ...good, d: '2025-12-31' })).toMatch(/^input\.d must be >= 2026-01-01/);
    expect(failure(params, { ...good, dt: 'tomorrow' })).toMatch(/^input\.dt must match format "date-time"/);
    expect(failure(params, { ...good, extra: 1 })).toBe('input.extra is not a parameter of this script');
    expect(failure(params, [])).toBe('input must be a JSON object');
  });

  it('fills defaults, requires what has none, and applies a dependent parameter only while its condition holds', () => {
    const params = [
      param({ name: 'target', type: 'select', required: true, options: [{ value: 'ldap' }, { value: 'scim' }] }),
      param({ name: 'base_dn', type: 'string', required: true, depends_on: 'target', depends_on_condition: { equals: 'ldap' } }),
      param({ name: 'batch', type: 'integer', required: true, default_value: 50 }),
    ];
    expect(failure(params, {})).toBe('input.target is required');
    expect(failure(params, { target: 'ldap' })).toBe('input.base_dn is required');
    expect(checkScriptInput(params, { target: 'ldap', base_dn: 'dc=x' })).toEqual({ ok: true, input: { target: 'ldap', base_dn: 'dc=x', batch: 50 } });
    // Not applicable: not required, and dropped when given.
    expect(checkScriptInput(params, { target: 'scim', base_dn: 'stale' })).toEqual({ ok: true, input: { target: 'scim', batch: 50 } });
  });

  it('a script without parameters takes any object', () => {
    expect(checkScriptInput([], { anything: 1 })).toEqual({ ok: true, input: { anything: 1 } });
  });

  it('seals, masks and reveals secrets: password always, others when marked', () => {
    const params = [param({ name: 'pw', type: 'password', required: true }), param({ name: 'token', type: 'string', is_secret: true }), param({ name: 'user', type: 'string' })];
    const checked = checkScriptInput(params, { pw: 'hunter2', token: 't0k', user: 'bob' });
    expect(checked.ok).toBe(true);
    const stored = sealSecretInput(params, (checked as { input: Record<string, unknown> }).input, (v, name) => `sealed(${name}:${String(v)})`);
    expect(stored).toEqual({ pw: { $sealed: 'sealed(pw:hunter2)' }, token: { $sealed: 'sealed(token:t0k)' }, user: 'bob' });
    // The stored (sealed) form still passes the schema: the worker checks what it reads back.
    expect(checkScriptInput(params, stored).ok).toBe(true);
    expect(maskSecretInput(params, stored)).toEqual({ pw: '********', token: '********', user: 'bob' });
    const open = (s: string) => s.replace(/^sealed\(\w+:(.*)\)$/, '$1');
    expect(revealSecretInput(stored, new Map([['other', 'sealed(other:dflt)']]), open)).toEqual({ pw: 'hunter2', token: 't0k', user: 'bob', other: 'dflt' });
  });

  it('a required secret with a sealed default is satisfied without a value', () => {
    const params = [param({ name: 'pw', type: 'password', required: true, has_secret_default: true })];
    expect(checkScriptInput(params, {})).toEqual({ ok: true, input: {} });
  });

  it('refuses definitions that cannot work, naming the field', () => {
    const check = (p: Partial<ScriptParameterDefinition> & Pick<ScriptParameterDefinition, 'name' | 'type'>, others: ScriptParameterDefinition[] = []) => checkParameterDefinitions([...others, param(p)]);
    expect(check({ name: 'a', type: 'string', validation_rules: { pattern: '(' } })).toEqual({ field: 'parameters.0.validation_rules.pattern', message: 'is not a valid regular expression' });
    expect(check({ name: 'a', type: 'string', validation_rules: { pattern: '^(a+)+$' } })?.message).toMatch(/catastrophic/);
    expect(check({ name: 'a', type: 'string', validation_rules: { min_length: 5, max_length: 2 } })?.field).toBe('parameters.0.validation_rules.min_length');
    expect(check({ name: 'a', type: 'integer', validation_rules: { min: 'x' } })?.field).toBe('parameters.0.validation_rules.min');
    expect(check({ name: 'a', type: 'date', validation_rules: { min: '2026-13-01' } })?.field).toBe('parameters.0.validation_rules.min');
    expect(check({ name: 'a', type: 'select' })?.field).toBe('parameters.0.options');
    expect(check({ name: 'a', type: 'string', options: [{ value: 1 }] })?.field).toBe('parameters.0.options');
    expect(check({ name: 'a', type: 'integer', default_value: 'x' })?.field).toBe('parameters.0.default_value');
    expect(check({ name: 'a', type: 'string', depends_on: 'nope', depends_on_condition: { equals: 1 } })?.field).toBe('parameters.0.depends_on');
    expect(check({ name: 'a', type: 'string', depends_on: 'b', depends_on_condition: { maybe: 1 } as never }, [param({ name: 'b', type: 'string' })])?.field).toBe('parameters.1.depends_on_condition');
    const cycle = [param({ name: 'a', type: 'string', depends_on: 'b', depends_on_condition: { equals: 'x' } }), param({ name: 'b', type: 'string', depends_on: 'a', depends_on_condition: { equals: 'y' } })];
    expect(checkParameterDefinitions(cycle)?.message).toBe('makes a cycle of dependencies');
    expect(checkParameterDefinitions([param({ name: 'ok', type: 'multiselect', options: [{ value: 'a' }], default_value: ['a'] })])).toBeNull();
  });
});
