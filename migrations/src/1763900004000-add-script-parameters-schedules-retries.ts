import { MigrationInterface, QueryRunner } from 'typeorm';
import { execute } from './support/sql';

/**
 * Seed 004 folded in (its upper-case enums stored lower case):
 *  - `script_parameters`: typed, validated inputs of a script (14 types), secrets, UI hints, dependencies;
 *  - scripts: last modifier, template of origin, permissions needed to run, SHA-256 of the source;
 *    versions: SHA-256 and an optional semantic version label;
 *  - executions: retries (count, limit, parent), schedule slot, captured console output;
 *  - `script_scheduled_jobs`: frequencies, status, misfire policy, failure actions, statistics, and a
 *    lease (`locked_by`, `locked_until`) so that one scheduler replica claims a due job.
 * Seed 001's columns are untouched; everything here is added.
 */
export class AddScriptParametersSchedulesRetries1763900004000 implements MigrationInterface {
  name = 'AddScriptParametersSchedulesRetries1763900004000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      `ALTER TABLE scripts
         ADD COLUMN updated_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
         ADD COLUMN template_id UUID REFERENCES script_templates(id) ON DELETE SET NULL,
         ADD COLUMN required_permissions TEXT[] NOT NULL DEFAULT '{}',
         ADD COLUMN source_sha256 VARCHAR(64)`,
      `ALTER TABLE script_versions
         ADD COLUMN source_sha256 VARCHAR(64),
         ADD COLUMN semantic_version VARCHAR(50)`,
      `CREATE UNIQUE INDEX uq_versions_script_semver ON script_versions(script_id, semantic_version) WHERE semantic_version IS NOT NULL`,

      `CREATE TABLE script_parameters (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        script_id UUID NOT NULL REFERENCES scripts(id) ON DELETE CASCADE,
        tenant_id UUID NOT NULL REFERENCES tenants(id),
        name VARCHAR(100) NOT NULL,
        label VARCHAR(255),
        description TEXT,
        type VARCHAR(20) NOT NULL,
        required BOOLEAN NOT NULL DEFAULT false,
        default_value JSONB,
        is_secret BOOLEAN NOT NULL DEFAULT false,
        validation_rules JSONB NOT NULL DEFAULT '{}'::jsonb,
        options JSONB,
        placeholder VARCHAR(255),
        help_text TEXT,
        group_name VARCHAR(100),
        is_advanced BOOLEAN NOT NULL DEFAULT false,
        display_order INTEGER NOT NULL DEFAULT 0,
        depends_on_parameter_id UUID REFERENCES script_parameters(id) ON DELETE SET NULL,
        depends_on_condition JSONB,
        created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        CONSTRAINT uq_script_parameters_script_name UNIQUE (script_id, name),
        CONSTRAINT ck_script_parameters_type CHECK (type IN (
          'string', 'integer', 'float', 'boolean', 'json', 'email', 'url', 'password', 'text',
          'select', 'multiselect', 'file', 'date', 'datetime')),
        CONSTRAINT ck_script_parameters_name CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]*$'),
        CONSTRAINT ck_script_parameters_options CHECK (type NOT IN ('select', 'multiselect') OR (options IS NOT NULL AND jsonb_typeof(options) = 'array')),
        CONSTRAINT ck_script_parameters_not_self_dependent CHECK (depends_on_parameter_id IS NULL OR depends_on_parameter_id <> id)
      )`,
      `CREATE INDEX idx_script_parameters_script ON script_parameters(script_id, display_order)`,
      `CREATE INDEX idx_script_parameters_tenant ON script_parameters(tenant_id)`,

      `ALTER TABLE script_executions
         ADD COLUMN retry_count INTEGER NOT NULL DEFAULT 0,
         ADD COLUMN max_retries INTEGER NOT NULL DEFAULT 0,
         ADD COLUMN parent_execution_id UUID REFERENCES script_executions(id) ON DELETE SET NULL,
         ADD COLUMN scheduled_job_id UUID REFERENCES script_scheduled_jobs(id) ON DELETE SET NULL,
         ADD COLUMN scheduled_for TIMESTAMP WITH TIME ZONE,
         ADD COLUMN logs JSONB NOT NULL DEFAULT '[]'::jsonb,
         ADD CONSTRAINT ck_script_executions_retries CHECK (retry_count >= 0 AND max_retries >= 0 AND retry_count <= max_retries)`,
      `CREATE INDEX idx_executions_parent ON script_executions(parent_execution_id) WHERE parent_execution_id IS NOT NULL`,
      // A schedule slot yields one first execution, however many scheduler replicas fire it.
      `CREATE UNIQUE INDEX uq_executions_schedule_slot ON script_executions(scheduled_job_id, scheduled_for)
         WHERE scheduled_job_id IS NOT NULL AND scheduled_for IS NOT NULL AND parent_execution_id IS NULL`,

      `ALTER TABLE script_scheduled_jobs
         ADD COLUMN frequency VARCHAR(20) NOT NULL DEFAULT 'cron',
         ADD COLUMN interval_seconds INTEGER,
         ADD COLUMN run_at TIMESTAMP WITH TIME ZONE,
         ADD COLUMN day_filter VARCHAR(20) NOT NULL DEFAULT 'all',
         ADD COLUMN status VARCHAR(20) NOT NULL DEFAULT 'active',
         ADD COLUMN allow_concurrent BOOLEAN NOT NULL DEFAULT false,
         ADD COLUMN misfire_policy VARCHAR(20) NOT NULL DEFAULT 'skip',
         ADD COLUMN failure_action VARCHAR(20) NOT NULL DEFAULT 'continue',
         ADD COLUMN failure_threshold INTEGER NOT NULL DEFAULT 1,
         ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0,
         ADD COLUMN notify_on_success BOOLEAN NOT NULL DEFAULT false,
         ADD COLUMN notify_on_failure BOOLEAN NOT NULL DEFAULT false,
         ADD COLUMN notification_emails TEXT[] NOT NULL DEFAULT '{}',
         ADD COLUMN run_count INTEGER NOT NULL DEFAULT 0,
         ADD COLUMN success_count INTEGER NOT NULL DEFAULT 0,
         ADD COLUMN failure_count INTEGER NOT NULL DEFAULT 0,
         ADD COLUMN last_duration_ms INTEGER,
         ADD COLUMN total_duration_ms BIGINT NOT NULL DEFAULT 0,
         ADD COLUMN last_error TEXT,
         ADD COLUMN locked_by VARCHAR(255),
         ADD COLUMN locked_until TIMESTAMP WITH TIME ZONE,
         ADD COLUMN created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
         ADD COLUMN updated_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
         ADD CONSTRAINT ck_script_scheduled_jobs_frequency
           CHECK (frequency IN ('once', 'daily', 'weekly', 'monthly', 'yearly', 'cron', 'interval')),
         ADD CONSTRAINT ck_script_scheduled_jobs_day_filter CHECK (day_filter IN ('all', 'weekdays', 'weekends')),
         ADD CONSTRAINT ck_script_scheduled_jobs_status CHECK (status IN ('active', 'paused', 'disabled')),
         ADD CONSTRAINT ck_script_scheduled_jobs_misfire_policy CHECK (misfire_policy IN ('skip', 'run_once')),
         ADD CONSTRAINT ck_script_scheduled_jobs_failure_action CHECK (failure_action IN ('continue', 'pause', 'notify', 'disable')),
         ADD CONSTRAINT ck_script_scheduled_jobs_interval
           CHECK (frequency <> 'interval' OR (interval_seconds IS NOT NULL AND interval_seconds > 0)),
         ADD CONSTRAINT ck_script_scheduled_jobs_once CHECK (frequency <> 'once' OR run_at IS NOT NULL),
         ADD CONSTRAINT ck_script_scheduled_jobs_counters CHECK (
           run_count >= 0 AND success_count >= 0 AND failure_count >= 0 AND consecutive_failures >= 0
           AND total_duration_ms >= 0 AND failure_threshold >= 1)`,
      // Due jobs, for the claim query (`... WHERE status = 'active' AND next_run_at <= now() AND
      // (locked_until IS NULL OR locked_until < now()) FOR UPDATE SKIP LOCKED`).
      `CREATE INDEX idx_scheduled_due ON script_scheduled_jobs(next_run_at) WHERE status = 'active'`,
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      'DROP INDEX idx_scheduled_due',
      `ALTER TABLE script_scheduled_jobs
         DROP CONSTRAINT ck_script_scheduled_jobs_counters,
         DROP CONSTRAINT ck_script_scheduled_jobs_once,
         DROP CONSTRAINT ck_script_scheduled_jobs_interval,
         DROP CONSTRAINT ck_script_scheduled_jobs_failure_action,
         DROP CONSTRAINT ck_script_scheduled_jobs_misfire_policy,
         DROP CONSTRAINT ck_script_scheduled_jobs_status,
         DROP CONSTRAINT ck_script_scheduled_jobs_day_filter,
         DROP CONSTRAINT ck_script_scheduled_jobs_frequency,
         DROP COLUMN updated_by,
         DROP COLUMN created_by,
         DROP COLUMN locked_until,
         DROP COLUMN locked_by,
         DROP COLUMN last_error,
         DROP COLUMN total_duration_ms,
         DROP COLUMN last_duration_ms,
         DROP COLUMN failure_count,
         DROP COLUMN success_count,
         DROP COLUMN run_count,
         DROP COLUMN notification_emails,
         DROP COLUMN notify_on_failure,
         DROP COLUMN notify_on_success,
         DROP COLUMN consecutive_failures,
         DROP COLUMN failure_threshold,
         DROP COLUMN failure_action,
         DROP COLUMN misfire_policy,
         DROP COLUMN allow_concurrent,
         DROP COLUMN status,
         DROP COLUMN day_filter,
         DROP COLUMN run_at,
         DROP COLUMN interval_seconds,
         DROP COLUMN frequency`,
      'DROP INDEX uq_executions_schedule_slot',
      'DROP INDEX idx_executions_parent',
      `ALTER TABLE script_executions
         DROP CONSTRAINT ck_script_executions_retries,
         DROP COLUMN logs,
         DROP COLUMN scheduled_for,
         DROP COLUMN scheduled_job_id,
         DROP COLUMN parent_execution_id,
         DROP COLUMN max_retries,
         DROP COLUMN retry_count`,
      'DROP TABLE script_parameters',
      'DROP INDEX uq_versions_script_semver',
      `ALTER TABLE script_versions
         DROP COLUMN semantic_version,
         DROP COLUMN source_sha256`,
      `ALTER TABLE scripts
         DROP COLUMN source_sha256,
         DROP COLUMN required_permissions,
         DROP COLUMN template_id,
         DROP COLUMN updated_by`,
    ]);
  }
}
