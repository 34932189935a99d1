import { parse } from 'scim2-parse-filter';
import { ConnectorErrorCode } from '../connector-errors';
import { expectConnectorError } from '../testing';
import { andFilters, toScimFilter, toScimFilterAst } from './scim-filter';

describe('SCIM filters from SearchFilter', () => {
  it('writes values as JSON string literals', () => {
    expect(toScimFilter({ op: 'eq', attribute: 'userName', value: 'bjensen' })).toBe('userName eq "bjensen"');
    expect(toScimFilter({ op: 'eq', attribute: 'userName', value: 'say "hi" \\ \u0000 Zoë 山田' })).toBe('userName eq "say \\"hi\\" \\\\ \\u0000 Zoë 山田"');
    expect(toScimFilter({ op: 'eq', attribute: 'active', value: true })).toBe('active eq true');
    expect(toScimFilter({ op: 'eq', attribute: 'age', value: 42 })).toBe('age eq 42');
    expect(toScimFilter({ op: 'present', attribute: 'title' })).toBe('title pr');
  });

  it('keeps an injection attempt inside its literal: one comparison, not three', () => {
    const text = toScimFilter({ op: 'eq', attribute: 'userName', value: 'x" or userName pr or userName eq "' });
    expect(parse(text)).toEqual({ op: 'eq', attrPath: 'userName', compValue: 'x" or userName pr or userName eq "' });
  });

  it('combines and/or with the parentheses precedence needs', () => {
    const either = { op: 'or' as const, filters: [{ op: 'eq' as const, attribute: 'a', value: '1' }, { op: 'eq' as const, attribute: 'b', value: '2' }] };
    expect(toScimFilter({ op: 'and', filters: [either, { op: 'present', attribute: 'c' }] })).toBe('(a eq "1" or b eq "2") and c pr');
    expect(toScimFilter({ op: 'or', filters: [{ op: 'and', filters: [{ op: 'present', attribute: 'a' }, { op: 'present', attribute: 'b' }] }, { op: 'present', attribute: 'c' }] })).toBe('a pr and b pr or c pr');
    expect(toScimFilter({ op: 'and', filters: [{ op: 'present', attribute: 'a' }] })).toBe('a pr');
  });

  it('accepts sub-attributes and extension URNs as attribute paths', () => {
    expect(toScimFilter({ op: 'eq', attribute: 'name.familyName', value: 'x' })).toBe('name.familyName eq "x"');
    expect(toScimFilter({ op: 'eq', attribute: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber', value: '7' })).toBe(
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7"',
    );
  });

  it.each(['userName pr or x', 'a"b', '', '1abc', 'emails[type eq "work"]', 'a.b.c'])('refuses the attribute path %j', async (attribute) => {
    await expectConnectorError(async () => toScimFilter({ op: 'eq', attribute, value: 'v' }), ConnectorErrorCode.InvalidAttribute);
  });

  it('refuses an empty and/or', async () => {
    await expectConnectorError(async () => toScimFilter({ op: 'or', filters: [] }), ConnectorErrorCode.BadRequest);
  });

  it('ands a delta bound with a caller filter', () => {
    const since = { op: 'ge' as const, attrPath: 'meta.lastModified', compValue: '2026-01-01T00:00:00.000Z' };
    expect(andFilters(since, toScimFilterAst({ op: 'eq', attribute: 'userName', value: 'a' }))).toBe('meta.lastModified ge "2026-01-01T00:00:00.000Z" and userName eq "a"');
    expect(andFilters(since, undefined)).toBe('meta.lastModified ge "2026-01-01T00:00:00.000Z"');
    expect(andFilters()).toBeUndefined();
  });
});
