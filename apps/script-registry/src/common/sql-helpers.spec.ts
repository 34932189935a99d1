import { SqlFilters } from '@provisio/platform';
import { toPrefixTsQuery } from '../scripts/scripts.repository';

describe('registry SQL helpers', () => {
  it('numbers filter parameters after the tenant, then the page', () => {
    const filters = new SqlFilters('s.tenant_id').add('s.status = ANY(?::text[])', ['active']).add('(a = ? OR b = ?)', 1, 2);
    expect(filters.where).toBe('s.tenant_id = $1 AND s.status = ANY($2::text[]) AND (a = $3 OR b = $4)');
    expect(filters.page({ limit: 10, offset: 20 })).toEqual({ sql: 'LIMIT $5 OFFSET $6', params: [['active'], 1, 2, 10, 20] });
  });

  it('turns a search into a prefix tsquery of words only', () => {
    expect(toPrefixTsQuery('Welcome mail')).toBe('welcome:* & mail:*');
    expect(toPrefixTsQuery("x' | !y:* & (z)")).toBe('x:* & y:* & z:*');
    expect(toPrefixTsQuery('Zoë Łukasz')).toBe('zoë:* & łukasz:*');
  });
});
