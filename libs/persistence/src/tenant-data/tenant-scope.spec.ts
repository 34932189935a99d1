import { assertTenantScoped, CrossTenant, TenantScoped, UnscopedQueryError } from './tenant-scope';

describe('tenant scope', () => {
  it.each([
    'SELECT * FROM scripts WHERE tenant_id = $1 AND id = $2',
    'SELECT 1 FROM scripts s JOIN users u ON u.id = s.created_by WHERE s.tenant_id=$1',
    'UPDATE scripts SET name = $3 WHERE tenant_id = $1 AND id = $2',
    'DELETE FROM script_http_endpoints WHERE tenant_id = $1 AND script_id = $2',
    'INSERT INTO audit_events (tenant_id, action) VALUES ($1, $2)',
    'INSERT INTO script_event_subscriptions (tenant_id, script_id, event_type) SELECT $1, $2, e FROM unnest($3::text[]) e',
    'WITH audited AS (INSERT INTO audit_events (tenant_id, action) VALUES ($1, $2) RETURNING event_id), announced AS (INSERT INTO outbox (id) SELECT $3) SELECT event_id FROM audited',
  ])('accepts %s', (sql) => expect(() => assertTenantScoped(sql)).not.toThrow());

  it.each([
    'SELECT * FROM scripts WHERE id = $1',
    'SELECT * FROM scripts WHERE tenant_id = $10',
    'SELECT * FROM scripts WHERE tenant_id = $2 AND id = $1',
    'UPDATE scripts SET name = $2 WHERE id = $1',
    'DELETE FROM scripts',
    'INSERT INTO audit_events (action, tenant_id) VALUES ($2, $1)',
    'INSERT INTO audit_events (tenant_id, action) VALUES ($2, $1)',
    'WITH audited AS (INSERT INTO audit_events (action, tenant_id) VALUES ($2, $1) RETURNING event_id) SELECT event_id FROM audited',
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

  it('runs cross-tenant statements as given, only with a reason, and turns to one tenant only in a transaction', async () => {
    const seen: unknown[][] = [];
    const run = async (_sql: string, params: unknown[]) => {
      seen.push(params);
      return { rows: [], rowCount: 0 };
    };
    expect(() => new CrossTenant('  ', run)).toThrow('must say why');
    const sweep = new CrossTenant('sweep: abandoned runs of every tenant', run);
    await sweep.query('SELECT id FROM script_executions WHERE status = $1', ['running']);
    expect(seen).toEqual([['running']]);
    expect(() => sweep.tenant('t-1')).toThrow('needs a transaction');
  });
});
