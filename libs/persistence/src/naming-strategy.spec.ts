import { PostgresNamingStrategy, postgresObjectName } from './naming-strategy';

describe('PostgresNamingStrategy', () => {
  const naming = new PostgresNamingStrategy();

  it('names constraints as PostgreSQL does for unnamed ones', () => {
    expect(naming.primaryKeyName('scripts')).toBe('scripts_pkey');
    expect(naming.foreignKeyName('script_executions', ['script_id'])).toBe('script_executions_script_id_fkey');
    expect(naming.uniqueConstraintName('script_scheduled_jobs', ['script_id'])).toBe('script_scheduled_jobs_script_id_key');
    expect(naming.relationConstraintName('remediation_results', ['discrepancy_id'])).toBe('remediation_results_discrepancy_id_key');
    expect(naming.foreignKeyName('some_schema.users', ['tenant_id'])).toBe('users_tenant_id_fkey');
  });

  it('shortens long names the way PostgreSQL 15 does (values taken from a real server)', () => {
    const table = 'a_really_long_table_name_for_testing_truncation_rules_xx';
    const column = 'a_rather_long_column_name_referencing_p';
    expect(postgresObjectName(table, column, 'fkey')).toBe('a_really_long_table_name_for__a_rather_long_column_name_re_fkey');
    expect(postgresObjectName(table, column, 'key')).toBe('a_really_long_table_name_for__a_rather_long_column_name_ref_key');
    expect(postgresObjectName(table, null, 'pkey')).toBe(`${table}_pkey`);
  });
});
