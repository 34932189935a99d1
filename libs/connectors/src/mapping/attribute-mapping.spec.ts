import { applyMapping, attributeMappingSchema } from './attribute-mapping';
import type { MappableIdentity } from './mappable-identity';

const zoe: MappableIdentity = {
  id: '7d0b7c0e-8a4c-4f55-9f55-2f7d0f3f6a10',
  username: 'ZLukas',
  email: ' Zoe.Lukasiewicz@Example.COM ',
  display_name: 'Zoë Łukasiewicz',
  status: 'active',
  attributes: { first_name: 'Zoë', last_name: 'Łukasiewicz', department: 'Finance', groups: ['Staff', 'Audit'], manager: { id: 'u-7' }, blank: '' },
};

const parse = (rules: unknown) => attributeMappingSchema.parse(rules);
const issues = (rules: unknown) => {
  const result = attributeMappingSchema.safeParse(rules);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('attribute mapping', () => {
  it('maps fields, nested attributes, constants, templates and concatenations with transforms', () => {
    const mapping = parse([
      { target: 'userName', from: 'username', transforms: ['lower'] },
      { target: 'emails', from: 'email', transforms: ['trim', 'lower'] },
      { target: 'active', value: true },
      { target: 'cn', concat: ['attributes.first_name', 'attributes.last_name'] },
      { target: 'uid', template: '{{ attributes.first_name }}.{{attributes.last_name}}@corp.example', transforms: ['lower'] },
      { target: 'manager', from: 'attributes.manager.id' },
      { target: 'memberOf', from: 'attributes.groups', transforms: ['upper'] },
    ]);
    expect(applyMapping(mapping, zoe)).toEqual({
      attributes: {
        userName: 'zlukas',
        emails: 'zoe.lukasiewicz@example.com',
        active: true,
        cn: 'Zoë Łukasiewicz',
        uid: 'zoë.łukasiewicz@corp.example',
        manager: 'u-7',
        memberOf: ['STAFF', 'AUDIT'],
      },
      missing: [],
    });
  });

  it('falls back to default on an empty result and reports required targets left empty', () => {
    const mapping = parse([
      { target: 'department', from: 'attributes.cost_centre', default: 'none' },
      { target: 'title', from: 'attributes.blank', required: true },
      { target: 'phone', from: 'attributes.phone' },
      { target: 'nick', concat: ['attributes.nick', 'attributes.blank'], separator: '-', required: true },
    ]);
    expect(applyMapping(mapping, zoe)).toEqual({ attributes: { department: 'none' }, missing: ['title', 'nick'] });
  });

  it('refuses rules without exactly one source, unknown paths and fields, duplicate targets', () => {
    expect(issues([{ target: 'a' }])).toEqual(['0: a rule takes exactly one of from, value, template, concat (this one has none)']);
    expect(issues([{ target: 'a', from: 'username', value: 'x' }])[0]).toMatch(/exactly one of .* \(this one has from, value\)/);
    expect(issues([{ target: 'a', from: 'password' }])[0]).toMatch(/^0\.from: must be an identity field/);
    expect(issues([{ target: 'a', template: 'x {{secret}}' }])[0]).toMatch(/^0\.template: placeholder \{\{secret\}\}/);
    expect(issues([{ target: 'a', from: 'username', transforms: ['reverse'] }])[0]).toMatch(/^0\.transforms\.0/);
    expect(issues([{ target: 'a', from: 'username', script: 'x' }])[0]).toMatch(/^0: .*script/);
    expect(issues([{ target: 'a', from: 'username' }, { target: 'a', value: 1 }])).toEqual(['1.target: target a is mapped twice']);
    expect(issues([{ target: '1a', value: 1 }])[0]).toMatch(/^0\.target/);
    expect(issues([{ target: 'a', from: 'username', separator: ',' }])).toEqual(['0.separator: separator applies only to concat']);
  });

  it('reads no inherited property and no attribute through a non-object', () => {
    const mapping = parse([
      { target: 'a', from: 'attributes.constructor' },
      { target: 'b', from: 'attributes.department.length' },
    ]);
    expect(applyMapping(mapping, zoe)).toEqual({ attributes: {}, missing: [] });
  });
});
