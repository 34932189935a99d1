import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import {
  ALL_ENTITIES,
  CONFLICT_OUTCOMES,
  CONFLICT_STATUSES,
  CONNECTOR_STATUSES,
  CONNECTOR_TYPES,
  DISCREPANCY_TYPES,
  EXECUTION_STATUSES,
  HOOK_FAILURE_POLICIES,
  HOOK_OPERATION_TYPES,
  HOOK_PHASES,
  IDENTITY_STATUSES,
  MISFIRE_POLICIES,
  OPERATION_LOG_LEVELS,
  OPERATION_STATUSES,
  OPERATION_TYPES,
  PARAMETER_TYPES,
  RECONCILIATION_FREQUENCIES,
  RECONCILIATION_MODES,
  RECONCILIATION_RUN_STATUSES,
  REMEDIATION_ACTIONS,
  REMEDIATION_DIRECTIONS,
  RESOLUTION_STATUSES,
  SCHEDULE_DAY_FILTERS,
  SCHEDULE_FAILURE_ACTIONS,
  SCHEDULE_FREQUENCIES,
  SCHEDULE_STATUSES,
  SCRIPT_STATUSES,
  SCRIPT_TYPES,
  TEMPLATE_CATEGORIES,
  TENANT_STATUSES,
  TRIGGER_TYPES,
  ensureTenant,
  resolveActor,
} from '@provisio/persistence';
import { createIsolatedSchema, createTenantFixture, IsolatedSchema, TenantFixture } from '@provisio/persistence/testing';
import { migrations } from './index';

const TABLES = [
  'tenants',
  'organizations',
  'users',
  'scripts',
  'script_executions',
  'script_versions',
  'script_event_subscriptions',
  'script_scheduled_jobs',
  'script_http_endpoints',
  'script_event_dead_letters',
  'connectors',
  'identities',
  'account_links',
  'hook_bindings',
  'script_templates',
  'audit_events',
  'script_parameters',
  'provisioning_operations',
  'execution_attempts',
  'operation_logs',
  'provisioning_conflicts',
  'reconciliation_schedules',
  'reconciliation_runs',
  'discrepancies',
  'remediation_results',
  'reconciliation_actions',
  'outbox',
  'processed_events',
  'script_execution_daily_stats',
  'reconciliation_connector_settings',
  'reconciliation_staged_accounts',
  'reconciliation_expected_accounts',
  'reconciliation_correlations',
  'reconciliation_run_segments',
].sort();

/** Every enum list of libs/persistence and the CHECK constraint that must hold exactly its values. */
const ENUM_CHECKS: [table: string, constraint: string, values: readonly string[]][] = [
  ['tenants', 'ck_tenants_status', TENANT_STATUSES],
  ['scripts', 'scripts_type_check', SCRIPT_TYPES],
  ['scripts', 'scripts_status_check', SCRIPT_STATUSES],
  ['script_executions', 'ck_script_executions_status', EXECUTION_STATUSES],
  ['script_executions', 'ck_script_executions_trigger_type', TRIGGER_TYPES],
  ['hook_bindings', 'ck_hook_bindings_hook_phase', HOOK_PHASES],
  ['hook_bindings', 'ck_hook_bindings_operation_type', HOOK_OPERATION_TYPES],
  ['hook_bindings', 'ck_hook_bindings_failure_policy', HOOK_FAILURE_POLICIES],
  ['script_templates', 'ck_script_templates_category', TEMPLATE_CATEGORIES],
  ['script_parameters', 'ck_script_parameters_type', PARAMETER_TYPES],
  ['script_scheduled_jobs', 'ck_script_scheduled_jobs_frequency', SCHEDULE_FREQUENCIES],
  ['script_scheduled_jobs', 'ck_script_scheduled_jobs_status', SCHEDULE_STATUSES],
  ['script_scheduled_jobs', 'ck_script_scheduled_jobs_day_filter', SCHEDULE_DAY_FILTERS],
  ['script_scheduled_jobs', 'ck_script_scheduled_jobs_misfire_policy', MISFIRE_POLICIES],
  ['script_scheduled_jobs', 'ck_script_scheduled_jobs_failure_action', SCHEDULE_FAILURE_ACTIONS],
  ['connectors', 'ck_connectors_type', CONNECTOR_TYPES],
  ['connectors', 'ck_connectors_status', CONNECTOR_STATUSES],
  ['identities', 'ck_identities_status', IDENTITY_STATUSES],
  ['provisioning_operations', 'ck_provisioning_operations_operation_type', OPERATION_TYPES],
  ['provisioning_operations', 'ck_provisioning_operations_status', OPERATION_STATUSES],
  ['operation_logs', 'ck_operation_logs_level', OPERATION_LOG_LEVELS],
  ['provisioning_conflicts', 'ck_provisioning_conflicts_status', CONFLICT_STATUSES],
  ['provisioning_conflicts', 'ck_provisioning_conflicts_outcome', CONFLICT_OUTCOMES],
  ['reconciliation_runs', 'ck_reconciliation_runs_mode', RECONCILIATION_MODES],
  ['reconciliation_runs', 'ck_reconciliation_runs_status', RECONCILIATION_RUN_STATUSES],
  ['reconciliation_schedules', 'ck_reconciliation_schedules_mode', RECONCILIATION_MODES],
  ['reconciliation_schedules', 'ck_reconciliation_schedules_frequency', RECONCILIATION_FREQUENCIES],
  ['discrepancies', 'ck_discrepancies_type', DISCREPANCY_TYPES],
  ['discrepancies', 'ck_discrepancies_resolution_status', RESOLUTION_STATUSES],
  ['remediation_results', 'ck_remediation_results_action', REMEDIATION_ACTIONS],
  ['remediation_results', 'ck_remediation_results_direction', REMEDIATION_DIRECTIONS],
];

/**
 * Differences TypeORM reports although entity and table agree: it lower-cases a function default
 * (`array[]`) but reads PostgreSQL's `ARRAY[]::text[]` back as `ARRAY[]`, so seed 001's `tags` default
 * never compares equal.
 */
const KNOWN_TYPEORM_NOISE = [/^ALTER TABLE "scripts" ALTER COLUMN "tags" SET DEFAULT ARRAY\[\]::text\[\]$/];

async function tablesIn(ds: DataSource, schema: string): Promise<string[]> {
  const rows: { table_name: string }[] = await ds.query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`,
    [schema],
  );
  return rows.map((r) => r.table_name);
}

/** `expect(promise).rejects` with the PostgreSQL error code and constraint name. */
async function expectViolation(promise: Promise<unknown>, code: string, constraint: string): Promise<void> {
  await expect(promise).rejects.toMatchObject({ code, constraint });
}

const CHECK = '23514';
const UNIQUE = '23505';
const NOT_NULL = '23502';

describe('migrations', () => {
  let db: IsolatedSchema;
  let ds: DataSource;
  let tenant: TenantFixture;

  beforeAll(async () => {
    db = await createIsolatedSchema(migrations);
    ds = db.dataSource;
    tenant = await createTenantFixture(ds);
  });

  afterAll(async () => db?.drop());

  const insertScript = async (name: string, overrides: Record<string, unknown> = {}): Promise<string> => {
    const row = { tenant_id: tenant.tenantId, organization_id: tenant.organizationId, name, source: 'export default () => 1', type: 'embedded', status: 'draft', ...overrides };
    const columns = Object.keys(row);
    const [{ id }] = await ds.query(
      `INSERT INTO scripts (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`,
      Object.values(row),
    );
    return id;
  };

  const insertConnector = async (name = `conn-${randomUUID().slice(0, 8)}`): Promise<string> => {
    const [{ id }] = await ds.query(`INSERT INTO connectors (tenant_id, name, type) VALUES ($1, $2, 'scim') RETURNING id`, [tenant.tenantId, name]);
    return id;
  };

  describe('schema', () => {
    it('creates every table, and records each migration in typeorm_migrations', async () => {
      expect(await tablesIn(ds, db.schema)).toEqual([...TABLES, 'typeorm_migrations'].sort());
      const applied: { name: string }[] = await ds.query('SELECT name FROM typeorm_migrations ORDER BY timestamp');
      expect(applied.map((r) => r.name)).toEqual(migrations.map((m) => new m().name));
    });

    it('keeps seed 001 exactly: its named constraints and all its indexes', async () => {
      const indexes: { indexname: string }[] = await ds.query('SELECT indexname FROM pg_indexes WHERE schemaname = $1', [db.schema]);
      const names = new Set(indexes.map((i) => i.indexname));
      for (const name of [
        'idx_scripts_tenant_status',
        'idx_scripts_tenant_type_status',
        'idx_scripts_http_path',
        'idx_scripts_event_types',
        'idx_scripts_cron',
        'idx_scripts_metadata',
        'idx_scripts_tags',
        'idx_scripts_fulltext',
        'idx_executions_script',
        'idx_executions_tenant_script',
        'idx_executions_tenant_status',
        'idx_executions_tenant_started',
        'idx_executions_tenant_trigger',
        'idx_executions_pending',
        'idx_executions_running',
        'idx_versions_script',
        'idx_versions_script_created',
        'idx_versions_tenant',
        'idx_event_subs_tenant_event',
        'idx_event_subs_script',
        'idx_scheduled_next_run',
        'idx_scheduled_script',
        'idx_scheduled_tenant',
        'idx_http_endpoints_path',
        'idx_http_endpoints_script',
        'idx_dead_letters_tenant',
        'idx_dead_letters_script',
        'idx_dead_letters_created',
        'idx_dead_letters_retry',
        // the unique constraints' indexes
        'uq_scripts_tenant_name',
        'uq_scripts_tenant_http_path',
        'uq_versions_script_number',
        'uq_subs_script_event',
        'uq_endpoints_tenant_path',
        'script_scheduled_jobs_script_id_key',
        'script_http_endpoints_script_id_key',
      ]) {
        expect({ index: name, exists: names.has(name) }).toEqual({ index: name, exists: true });
      }
      const [gin] = await ds.query(`SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'idx_scripts_fulltext'`, [db.schema]);
      expect(gin.indexdef).toContain("USING gin (to_tsvector('english'::regconfig");
    });

    it('holds exactly the values of each enum list in its CHECK constraint', async () => {
      for (const [table, constraint, values] of ENUM_CHECKS) {
        const rows: { def: string }[] = await ds.query(
          `SELECT pg_get_constraintdef(c.oid) AS def FROM pg_constraint c WHERE c.conrelid = to_regclass($1) AND c.conname = $2`,
          [table, constraint],
        );
        expect({ constraint, found: rows.length }).toEqual({ constraint, found: 1 });
        const inCheck = [...rows[0].def.matchAll(/'([^']*)'::(?:character varying|text)/g)].map((m) => m[1]);
        expect({ constraint, values: [...new Set(inCheck)].sort() }).toEqual({ constraint, values: [...values].sort() });
      }
    });

    it('is described exactly by the TypeORM entities (empty schema diff)', async () => {
      const { upQueries } = await ds.driver.createSchemaBuilder().log();
      const diff = upQueries.map((q) => q.query).filter((sql) => !KNOWN_TYPEORM_NOISE.some((re) => re.test(sql)));
      expect(diff).toEqual([]);
    });

    it('has every entity column, with the entity nullability and a matching type', async () => {
      const rows: { table_name: string; column_name: string; is_nullable: string; data_type: string; udt_name: string }[] = await ds.query(
        'SELECT table_name, column_name, is_nullable, data_type, udt_name FROM information_schema.columns WHERE table_schema = $1',
        [db.schema],
      );
      const columns = new Map(rows.map((r) => [`${r.table_name}.${r.column_name}`, r]));
      const problems: string[] = [];
      for (const entity of ALL_ENTITIES) {
        const metadata = ds.getMetadata(entity);
        for (const column of metadata.columns) {
          const key = `${metadata.tableName}.${column.databaseName}`;
          const found = columns.get(key);
          if (!found) {
            problems.push(`${key}: missing`);
            continue;
          }
          if ((found.is_nullable === 'YES') !== column.isNullable) problems.push(`${key}: nullable ${found.is_nullable}, entity ${column.isNullable}`);
          if (column.propertyName !== column.databaseName) problems.push(`${key}: property ${column.propertyName} is not the column name`);
          const type = ds.driver.normalizeType(column);
          const dbType = found.data_type === 'ARRAY' ? found.udt_name.replace(/^_/, '') : found.data_type;
          if (dbType !== type) problems.push(`${key}: type ${dbType}, entity ${type}`);
        }
        const entityColumns = new Set(metadata.columns.map((c) => c.databaseName));
        for (const r of rows) if (r.table_name === metadata.tableName && !entityColumns.has(r.column_name)) problems.push(`${metadata.tableName}.${r.column_name}: no entity column`);
      }
      expect(problems).toEqual([]);
    });

    it('saves and reads rows through the entities', async () => {
      const { Script, ScriptExecution } = await import('@provisio/persistence');
      const scripts = ds.getRepository(Script);
      const saved = await scripts.save(
        scripts.create({ tenant_id: tenant.tenantId, organization_id: tenant.organizationId, name: 'through-typeorm', source: 'x', type: 'event', status: 'active', event_types: ['user.created'], created_by: tenant.userId }),
      );
      const read = await scripts.findOneByOrFail({ id: saved.id });
      expect(read).toMatchObject({
        name: 'through-typeorm',
        current_version: 0,
        is_system: false,
        tags: [],
        metadata: {},
        required_permissions: [],
        resource_limits: { max_execution_time_ms: 30000, max_memory_bytes: 67108864, max_concurrent_runs: 5, max_api_calls_per_minute: 60, max_output_size_bytes: 1048576 },
      });
      const execution = await ds.getRepository(ScriptExecution).save({ script_id: saved.id, tenant_id: tenant.tenantId, status: 'queued', trigger_type: 'hook' });
      const withScript = await ds.getRepository(ScriptExecution).findOneOrFail({ where: { id: execution.id }, relations: { script: true } });
      expect(withScript).toMatchObject({ status: 'queued', trigger_type: 'hook', dry_run: false, retry_count: 0, logs: [], script: { id: saved.id } });
    });
  });

  describe('constraints', () => {
    it('rejects values outside the enums', async () => {
      await expectViolation(insertScript('bad-status', { status: 'bogus' }), CHECK, 'scripts_status_check');
      await expectViolation(insertScript('bad-type', { type: 'cron' }), CHECK, 'scripts_type_check');
      // seed 000's `inactive` is an API alias, not a stored status
      await expectViolation(insertScript('inactive', { status: 'inactive' }), CHECK, 'scripts_status_check');

      const scriptId = await insertScript('enum-checks');
      const execution = (status: string, trigger: string) =>
        ds.query(`INSERT INTO script_executions (script_id, tenant_id, status, trigger_type) VALUES ($1, $2, $3, $4)`, [scriptId, tenant.tenantId, status, trigger]);
      await execution('queued', 'hook');
      await execution('skipped', 'oneoff');
      await expectViolation(execution('success', 'api'), CHECK, 'ck_script_executions_status');
      await expectViolation(execution('pending', 'webhook'), CHECK, 'ck_script_executions_trigger_type');

      const connectorId = await insertConnector();
      await expectViolation(
        ds.query(`INSERT INTO provisioning_operations (tenant_id, connector_id, connector_name, operation_type, status) VALUES ($1, $2, 'c', 'create', 'nope')`, [tenant.tenantId, connectorId]),
        CHECK,
        'ck_provisioning_operations_status',
      );
      const [{ id: runId }] = await ds.query(`INSERT INTO reconciliation_runs (tenant_id, connector_id, mode) VALUES ($1, $2, 'full') RETURNING id`, [tenant.tenantId, connectorId]);
      const discrepancy = (type: string, attribute: string | null) =>
        ds.query(`INSERT INTO discrepancies (tenant_id, connector_id, run_id, discrepancy_type, attribute_name) VALUES ($1, $2, $3, $4, $5) RETURNING id`, [tenant.tenantId, connectorId, runId, type, attribute]);
      await expectViolation(discrepancy('x', null), CHECK, 'ck_discrepancies_type');
      await expectViolation(discrepancy('mismatch', null), CHECK, 'ck_discrepancies_mismatch_attribute');
      await expectViolation(
        ds.query(`INSERT INTO script_parameters (script_id, tenant_id, name, type) VALUES ($1, $2, 'p', 'STRING')`, [scriptId, tenant.tenantId]),
        CHECK,
        'ck_script_parameters_type',
      );
      await expectViolation(
        ds.query(`INSERT INTO script_parameters (script_id, tenant_id, name, type) VALUES ($1, $2, 'choice', 'select')`, [scriptId, tenant.tenantId]),
        CHECK,
        'ck_script_parameters_options',
      );
    });

    it('keeps script names unique per tenant, not across tenants', async () => {
      await insertScript('unique-name');
      await expectViolation(insertScript('unique-name'), UNIQUE, 'uq_scripts_tenant_name');
      const other = await createTenantFixture(ds);
      await ds.query(`INSERT INTO scripts (tenant_id, organization_id, name, source, type, status) VALUES ($1, $2, 'unique-name', 's', 'oneoff', 'draft')`, [
        other.tenantId,
        other.organizationId,
      ]);
    });

    it('deletes versions, executions, bindings, parameters and schedules with their script; audit events stay', async () => {
      const scriptId = await insertScript('cascade');
      const connectorId = await insertConnector();
      await ds.query(`INSERT INTO script_versions (script_id, tenant_id, version_number, source) VALUES ($1, $2, 1, 'v1'), ($1, $2, 2, 'v2')`, [scriptId, tenant.tenantId]);
      const [{ id: bindingId }] = await ds.query(
        `INSERT INTO hook_bindings (tenant_id, script_id, connector_id, hook_phase, operation_type) VALUES ($1, $2, $3, 'before', 'create') RETURNING id`,
        [tenant.tenantId, scriptId, connectorId],
      );
      const [{ id: executionId }] = await ds.query(
        `INSERT INTO script_executions (script_id, tenant_id, status, trigger_type, binding_id, connector_id) VALUES ($1, $2, 'completed', 'hook', $3, $4) RETURNING id`,
        [scriptId, tenant.tenantId, bindingId, connectorId],
      );
      await ds.query(`INSERT INTO script_event_dead_letters (script_id, tenant_id, execution_id, event_type, event_data, error) VALUES ($1, $2, $3, 'user.created', '{}', 'boom')`, [
        scriptId,
        tenant.tenantId,
        executionId,
      ]);
      await ds.query(`INSERT INTO script_parameters (script_id, tenant_id, name, type) VALUES ($1, $2, 'p', 'string')`, [scriptId, tenant.tenantId]);
      await ds.query(`INSERT INTO script_scheduled_jobs (script_id, tenant_id, cron_expression) VALUES ($1, $2, '* * * * *')`, [scriptId, tenant.tenantId]);
      const [{ event_id: auditId }] = await ds.query(
        `INSERT INTO audit_events (tenant_id, script_id, entity_type, entity_id, action, actor_id) VALUES ($1, $2, 'script', $2, 'delete', 'alice') RETURNING event_id`,
        [tenant.tenantId, scriptId],
      );

      await ds.query('DELETE FROM scripts WHERE id = $1', [scriptId]);

      for (const table of ['script_versions', 'script_executions', 'hook_bindings', 'script_event_dead_letters', 'script_parameters', 'script_scheduled_jobs']) {
        const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM ${table} WHERE script_id = $1`, [scriptId]);
        expect({ table, n }).toEqual({ table, n: 0 });
      }
      const [audit] = await ds.query('SELECT script_id, entity_id FROM audit_events WHERE event_id = $1', [auditId]);
      expect(audit).toEqual({ script_id: null, entity_id: scriptId });
    });

    it('enforces the hook binding rules of seed 000', async () => {
      const scriptId = await insertScript('hooks');
      const connectorId = await insertConnector();
      const binding = (values: Record<string, unknown>) => {
        const row = { tenant_id: tenant.tenantId, script_id: scriptId, connector_id: connectorId, hook_phase: 'after', operation_type: 'update', ...values };
        return ds.query(`INSERT INTO hook_bindings (${Object.keys(row).join(', ')}) VALUES (${Object.keys(row).map((_, i) => `$${i + 1}`).join(', ')})`, Object.values(row));
      };
      await expectViolation(binding({ hook_phase: 'during' }), CHECK, 'ck_hook_bindings_hook_phase');
      await expectViolation(binding({ operation_type: 'rename' }), CHECK, 'ck_hook_bindings_operation_type');
      await expectViolation(binding({ failure_policy: 'abort', max_retries: 2 }), CHECK, 'ck_hook_bindings_max_retries');
      await expectViolation(binding({ timeout_seconds: 0 }), CHECK, 'ck_hook_bindings_timeout_seconds');
      await expectViolation(binding({ timeout_seconds: 301 }), CHECK, 'ck_hook_bindings_timeout_seconds');
      await expectViolation(binding({ execution_order: -1 }), CHECK, 'ck_hook_bindings_execution_order');
      await binding({ failure_policy: 'retry', max_retries: 3, timeout_seconds: 300 });
      await expectViolation(binding({ operation_type: 'update', hook_phase: 'after' }), UNIQUE, 'uq_hook_bindings_script_hook');
    });

    it('scopes templates: system templates have no tenant and unique names, tenant templates are unique per tenant', async () => {
      const template = (tenantId: string | null, name: string, isSystem: boolean) =>
        ds.query(`INSERT INTO script_templates (tenant_id, name, category, template_body, is_system) VALUES ($1, $2, 'custom', 'body', $3)`, [tenantId, name, isSystem]);
      const name = `t-${randomUUID().slice(0, 8)}`;
      await template(null, name, true);
      await expectViolation(template(null, name, true), UNIQUE, 'uq_script_templates_tenant_name');
      await expectViolation(template(null, `${name}-2`, false), CHECK, 'ck_script_templates_system_scope');
      await template(tenant.tenantId, name, false);
      await expectViolation(template(tenant.tenantId, name, false), UNIQUE, 'uq_script_templates_tenant_name');
      await expectViolation(
        ds.query(`INSERT INTO script_templates (tenant_id, name, category, template_body) VALUES ($1, 'x', 'misc', 'b')`, [tenant.tenantId]),
        CHECK,
        'ck_script_templates_category',
      );
    });

    it('gives a schedule slot one first execution, and bounds retries', async () => {
      const scriptId = await insertScript('scheduled', { type: 'scheduled', cron_expression: '*/5 * * * *' });
      const [{ id: jobId }] = await ds.query(`INSERT INTO script_scheduled_jobs (script_id, tenant_id, cron_expression) VALUES ($1, $2, '*/5 * * * *') RETURNING id`, [
        scriptId,
        tenant.tenantId,
      ]);
      const slot = '2026-11-23T10:05:00Z';
      const insert = (extra: string, values: unknown[] = []) =>
        ds.query(
          `INSERT INTO script_executions (script_id, tenant_id, status, trigger_type, scheduled_job_id, scheduled_for${extra ? `, ${extra}` : ''})
           VALUES ($1, $2, 'failed', 'cron', $3, $4${values.map((_, i) => `, $${i + 5}`).join('')}) RETURNING id`,
          [scriptId, tenant.tenantId, jobId, slot, ...values],
        );
      const [{ id: first }] = await insert('max_retries', [2]);
      await expectViolation(insert(''), UNIQUE, 'uq_executions_schedule_slot');
      await insert('parent_execution_id, retry_count, max_retries', [first, 1, 2]);
      await expectViolation(insert('parent_execution_id, retry_count, max_retries', [first, 3, 2]), CHECK, 'ck_script_executions_retries');

      await expectViolation(ds.query(`UPDATE script_scheduled_jobs SET frequency = 'interval' WHERE id = $1`, [jobId]), CHECK, 'ck_script_scheduled_jobs_interval');
      await expectViolation(ds.query(`UPDATE script_scheduled_jobs SET frequency = 'once' WHERE id = $1`, [jobId]), CHECK, 'ck_script_scheduled_jobs_once');
      await expectViolation(ds.query(`UPDATE script_scheduled_jobs SET failure_action = 'explode' WHERE id = $1`, [jobId]), CHECK, 'ck_script_scheduled_jobs_failure_action');
      await ds.query(`UPDATE script_scheduled_jobs SET frequency = 'interval', interval_seconds = 300, misfire_policy = 'run_once', failure_action = 'pause' WHERE id = $1`, [jobId]);
    });

    it('enforces the provisioning and reconciliation rules of seed 002', async () => {
      const connectorId = await insertConnector();
      const [{ id: identityId }] = await ds.query(`INSERT INTO identities (tenant_id, username) VALUES ($1, 'zoe') RETURNING id`, [tenant.tenantId]);
      await expectViolation(ds.query(`INSERT INTO identities (tenant_id, username) VALUES ($1, 'zoe')`, [tenant.tenantId]), UNIQUE, 'uq_identities_tenant_username');
      await ds.query(`INSERT INTO account_links (tenant_id, identity_id, connector_id, external_uid) VALUES ($1, $2, $3, 'ext-1')`, [tenant.tenantId, identityId, connectorId]);
      await expectViolation(
        ds.query(`INSERT INTO account_links (tenant_id, identity_id, connector_id, external_uid) VALUES ($1, $2, $3, 'ext-2')`, [tenant.tenantId, identityId, connectorId]),
        UNIQUE,
        'uq_account_links_identity',
      );

      const operation = async () =>
        (
          await ds.query(
            `INSERT INTO provisioning_operations (tenant_id, connector_id, connector_name, user_id, operation_type) VALUES ($1, $2, 'scim', $3, 'update') RETURNING id`,
            [tenant.tenantId, connectorId, identityId],
          )
        )[0].id as string;
      const [a, b] = [await operation(), await operation()];
      await ds.query(`INSERT INTO execution_attempts (operation_id, tenant_id, attempt_number) VALUES ($1, $2, 1)`, [a, tenant.tenantId]);
      await expectViolation(ds.query(`INSERT INTO execution_attempts (operation_id, tenant_id, attempt_number) VALUES ($1, $2, 1)`, [a, tenant.tenantId]), UNIQUE, 'uq_execution_attempts_operation_number');
      await expectViolation(ds.query(`INSERT INTO operation_logs (operation_id, tenant_id, level, message) VALUES ($1, $2, 'debug', 'm')`, [a, tenant.tenantId]), CHECK, 'ck_operation_logs_level');
      await expectViolation(
        ds.query(`INSERT INTO provisioning_conflicts (tenant_id, operation_id_a, operation_id_b, conflict_type, status) VALUES ($1, $2, $3, 'concurrent_update', 'resolved')`, [tenant.tenantId, a, b]),
        CHECK,
        'ck_provisioning_conflicts_resolution',
      );
      await ds.query(
        `INSERT INTO provisioning_conflicts (tenant_id, operation_id_a, operation_id_b, conflict_type, affected_attributes) VALUES ($1, $2, $3, 'concurrent_update', ARRAY['mail','title'])`,
        [tenant.tenantId, a, b],
      );

      // identity deleted: the operation stays, its user_id is cleared
      await ds.query('DELETE FROM identities WHERE id = $1', [identityId]);
      const [{ user_id }] = await ds.query('SELECT user_id FROM provisioning_operations WHERE id = $1', [a]);
      expect(user_id).toBeNull();

      const schedule = (values: Record<string, unknown>) => {
        const row = { tenant_id: tenant.tenantId, connector_id: connectorId, ...values };
        return ds.query(`INSERT INTO reconciliation_schedules (${Object.keys(row).join(', ')}) VALUES (${Object.keys(row).map((_, i) => `$${i + 1}`).join(', ')})`, Object.values(row));
      };
      await expectViolation(schedule({ frequency: 'cron' }), CHECK, 'ck_reconciliation_schedules_cron');
      await expectViolation(schedule({ frequency: 'daily', hour_of_day: 24 }), CHECK, 'ck_reconciliation_schedules_hour_of_day');
      await expectViolation(schedule({ frequency: 'weekly', day_of_week: 7 }), CHECK, 'ck_reconciliation_schedules_day_of_week');
      await expectViolation(schedule({ frequency: 'fortnightly' }), CHECK, 'ck_reconciliation_schedules_frequency');
      await schedule({ frequency: 'cron', cron_expression: '0 3 * * *' });
      await expectViolation(schedule({ frequency: 'daily' }), UNIQUE, 'reconciliation_schedules_connector_id_key');

      const [{ id: runId }] = await ds.query(`INSERT INTO reconciliation_runs (tenant_id, connector_id, mode) VALUES ($1, $2, 'delta') RETURNING id`, [tenant.tenantId, connectorId]);
      await expectViolation(
        ds.query(`INSERT INTO reconciliation_runs (tenant_id, connector_id, mode) VALUES ($1, $2, 'full')`, [tenant.tenantId, connectorId]),
        UNIQUE,
        'uq_reconciliation_runs_active',
      );
      const [{ id: discrepancyId }] = await ds.query(
        `INSERT INTO discrepancies (tenant_id, connector_id, run_id, discrepancy_type, external_uid) VALUES ($1, $2, $3, 'orphan', 'ext-9') RETURNING id`,
        [tenant.tenantId, connectorId, runId],
      );
      const remediation = (action: string, direction: string) =>
        ds.query(`INSERT INTO remediation_results (tenant_id, discrepancy_id, action, direction, success) VALUES ($1, $2, $3, $4, true)`, [tenant.tenantId, discrepancyId, action, direction]);
      await expectViolation(remediation('delete', 'sideways'), CHECK, 'ck_remediation_results_direction');
      await expectViolation(remediation('purge', 'xavyo_to_target'), CHECK, 'ck_remediation_results_action');
      await remediation('delete', 'xavyo_to_target');
      await expectViolation(remediation('unlink', 'target_to_xavyo'), UNIQUE, 'remediation_results_discrepancy_id_key');
      await ds.query(`INSERT INTO reconciliation_actions (tenant_id, connector_id, run_id, discrepancy_id, action_type, result) VALUES ($1, $2, $3, $4, 'delete', 'success')`, [
        tenant.tenantId,
        connectorId,
        runId,
        discrepancyId,
      ]);
    });

    it('requires the columns the seeds require', async () => {
      await expect(
        ds.query(`INSERT INTO scripts (tenant_id, organization_id, name, type, status) VALUES ($1, $2, 'no-source', 'http', 'draft')`, [tenant.tenantId, tenant.organizationId]),
      ).rejects.toMatchObject({ code: NOT_NULL, column: 'source' });
      await expect(
        ds.query(`INSERT INTO provisioning_operations (tenant_id, connector_id, operation_type) VALUES ($1, $2, 'create')`, [tenant.tenantId, await insertConnector()]),
      ).rejects.toMatchObject({ code: NOT_NULL, column: 'connector_name' });
    });
  });

  describe('tenancy helpers', () => {
    it('creates a tenant, its default organization and actors once, however often asked', async () => {
      const tenantId = randomUUID();
      const org = await ensureTenant(ds, tenantId);
      expect(await ensureTenant(ds, tenantId)).toBe(org);
      const alice = await resolveActor(ds, tenantId, 'alice');
      const [again, bob] = await Promise.all([resolveActor(ds, tenantId, 'alice'), resolveActor(ds, tenantId, 'bob')]);
      expect(again).toBe(alice);
      expect(bob).not.toBe(alice);
      expect(Number.isInteger(alice)).toBe(true);
    });
  });

  describe('plumbing', () => {
    it('has the outbox the relay uses and the idempotency record of consumers', async () => {
      const id = randomUUID();
      await ds.query(`INSERT INTO outbox (id, tenant_id, topic, message_key, event_type, payload) VALUES ($1, NULL, 'provisio.script-changes', 'k', 't', '{}')`, [id]);
      const [row] = await ds.query('SELECT headers, attempts, published_at, claimed_until, probe_offsets FROM outbox WHERE id = $1', [id]);
      expect(row).toEqual({ headers: {}, attempts: 0, published_at: null, claimed_until: null, probe_offsets: null });
      const record = () => ds.query(`INSERT INTO processed_events (consumer, event_id) VALUES ('g', $1) ON CONFLICT DO NOTHING RETURNING event_id`, [id]);
      expect(await record()).toHaveLength(1);
      expect(await record()).toHaveLength(0);
    });
  });
});

describe('migrations down', () => {
  let db: IsolatedSchema;

  beforeAll(async () => {
    db = await createIsolatedSchema(migrations);
  });

  afterAll(async () => db?.drop());

  it('reverts every migration, leaving only typeorm_migrations, and applies them all again', async () => {
    const ds = db.dataSource;
    // rows that use what later migrations added, so their down() runs against real data
    const tenant = await createTenantFixture(ds);
    await ds.query(`INSERT INTO scripts (tenant_id, organization_id, name, source, type, status) VALUES ($1, $2, 'x', 's', 'embedded', 'draft')`, [tenant.tenantId, tenant.organizationId]);

    for (let i = migrations.length; i > 0; i--) {
      await ds.undoLastMigration();
    }
    expect(await tablesIn(ds, db.schema)).toEqual(['typeorm_migrations']);
    expect(await ds.query('SELECT * FROM typeorm_migrations')).toEqual([]);
    const leftovers = await ds.query(
      `SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname NOT LIKE 'typeorm_migrations%'`,
      [db.schema],
    );
    expect(leftovers).toEqual([]);

    await ds.runMigrations();
    expect(await tablesIn(ds, db.schema)).toEqual([...TABLES, 'typeorm_migrations'].sort());
  });
});
