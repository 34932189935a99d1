import { assertTenantScoped, TenantScoped, UnscopedQueryError } from './tenant-database';
import { SqlFilters } from './sql-filters';
import { toPrefixTsQuery } from '../scripts/scripts.repository';

describe('tenant scope', () => {
  it.each([
    'SELECT * FROM scripts WHERE tenant_id = $1 AND id = $2',
    'SELECT 1 FROM scripts s JOIN users u ON u.id = s.created_by WHERE s.tenant_id=$1',
    'UPDATE scripts SET name = $3 WHERE tenant_id = $1 AND id = $2',
    'DELETE FROM script_http_endpoints WHERE tenant_id = $1 AND script_id = $2',
    'INSERT INTO audit_events (tenant_id, action) VALUES ($1, $2)',
    'INSERT INTO script_event_subscriptions (tenant_id, script_id, event_type) SELECT $1, $2, e FROM unnest($3::text[]) e',
  ])('accepts %s', (sql) => expect(() => assertTenantScoped(sql)).not.toThrow());

  it.each([
    'SELECT * FROM scripts WHERE id = $1',
    'SELECT * FROM scripts WHERE tenant_id = $10',
    'SELECT * FROM scripts WHERE tenant_id = $2 AND id = $1',
    'UPDATE scripts SET name = $2 WHERE id = $1',
    'DELETE FROM scripts',
    'INSERT INTO audit_events (action, tenant_id) VALUES ($2, $1)',
    'INSERT INTO audit_events (tenant_id, action) VALUES ($2, $1)',
  ])('refuses %s', (sql) => expect(() => assertTenantScoped(sql)).toThrow(UnscopedQueryError));

  it('binds the tenant as $1 and the parameters after it', async () => {
    const seen: unknown[][] = [];
    const scoped = new TenantScoped('t-1', async (_sql, params) => {
      seen.push(params);
      return { rows: [{ ok: true }], rowCount: 1 };
    });
    await scoped.query('SELECT 1 FROM scripts WHERE tenant_id = $1 AND id = $2', ['s-1']);
    expect(seen).toEqual([['t-1', 's-1']]);
    await expect(scoped.query('SELECT 1 FROM scripts WHERE id = $1', ['s-1'])).rejects.toThrow(UnscopedQueryError);
  });

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
