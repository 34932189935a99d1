import { MigrationInterface, QueryRunner } from 'typeorm';
import { execute } from './support/sql';

/**
 * Seed 001, the JavaScript runtime, exactly as its migration gives it (tables, then indexes, in the
 * seed's order; unnamed CHECKs keep PostgreSQL's default names, e.g. `scripts_status_check`).
 * Later migrations only add to these tables; they never change what is here, except that
 * 1763900003000 replaces the two CHECKs of `script_executions` by wider, named ones.
 */
export class CreateJsRuntimeTables1763900001000 implements MigrationInterface {
  name = 'CreateJsRuntimeTables1763900001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      `CREATE TABLE scripts (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id UUID NOT NULL REFERENCES tenants(id),
    organization_id UUID NOT NULL REFERENCES organizations(id),
    name VARCHAR(255) NOT NULL,
    description TEXT,
    source TEXT NOT NULL,
    type VARCHAR(50) NOT NULL CHECK (type IN ('scheduled', 'http', 'event', 'oneoff', 'embedded')),
    status VARCHAR(50) NOT NULL CHECK (status IN ('draft', 'active', 'paused', 'disabled', 'archived')),
    resource_limits JSONB NOT NULL DEFAULT '{
        "max_execution_time_ms": 30000,
        "max_memory_bytes": 67108864,
        "max_concurrent_runs": 5,
        "max_api_calls_per_minute": 60,
        "max_output_size_bytes": 1048576
    }'::jsonb,
    cron_expression VARCHAR(255),
    http_path VARCHAR(500),
    http_methods TEXT[],
    event_types TEXT[],
    metadata JSONB DEFAULT '{}'::jsonb,
    tags TEXT[] DEFAULT ARRAY[]::TEXT[],
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    created_by INTEGER REFERENCES users(id),
    CONSTRAINT uq_scripts_tenant_name UNIQUE (tenant_id, name),
    CONSTRAINT uq_scripts_tenant_http_path UNIQUE (tenant_id, http_path)
)`,
      `CREATE TABLE script_executions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    script_id UUID NOT NULL REFERENCES scripts(id) ON DELETE CASCADE,
    tenant_id UUID NOT NULL REFERENCES tenants(id),
    status VARCHAR(50) NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'timeout', 'cancelled')),
    trigger_type VARCHAR(50) NOT NULL CHECK (trigger_type IN ('cron', 'http', 'event', 'manual', 'api')),
    trigger_data JSONB DEFAULT '{}'::jsonb,
    input JSONB DEFAULT '{}'::jsonb,
    output JSONB,
    error TEXT,
    metrics JSONB DEFAULT '{}'::jsonb,
    started_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    completed_at TIMESTAMP WITH TIME ZONE
)`,
      `CREATE TABLE script_versions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    script_id UUID NOT NULL REFERENCES scripts(id) ON DELETE CASCADE,
    tenant_id UUID NOT NULL REFERENCES tenants(id),
    version_number INTEGER NOT NULL,
    source TEXT NOT NULL,
    change_description TEXT,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    created_by INTEGER REFERENCES users(id),
    CONSTRAINT uq_versions_script_number UNIQUE (script_id, version_number)
)`,
      `CREATE TABLE script_event_subscriptions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    script_id UUID NOT NULL REFERENCES scripts(id) ON DELETE CASCADE,
    tenant_id UUID NOT NULL REFERENCES tenants(id),
    event_type VARCHAR(255) NOT NULL,
    is_active BOOLEAN DEFAULT true,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    CONSTRAINT uq_subs_script_event UNIQUE (script_id, event_type)
)`,
      `CREATE TABLE script_scheduled_jobs (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    script_id UUID NOT NULL UNIQUE REFERENCES scripts(id) ON DELETE CASCADE,
    tenant_id UUID NOT NULL REFERENCES tenants(id),
    cron_expression VARCHAR(255) NOT NULL,
    timezone VARCHAR(100) DEFAULT 'UTC',
    next_run_at TIMESTAMP WITH TIME ZONE,
    last_run_at TIMESTAMP WITH TIME ZONE,
    last_run_status VARCHAR(50),
    is_running BOOLEAN DEFAULT false,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
)`,
      `CREATE TABLE script_http_endpoints (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    script_id UUID NOT NULL UNIQUE REFERENCES scripts(id) ON DELETE CASCADE,
    tenant_id UUID NOT NULL REFERENCES tenants(id),
    http_path VARCHAR(500) NOT NULL,
    http_methods TEXT[] NOT NULL,
    is_active BOOLEAN DEFAULT true,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    CONSTRAINT uq_endpoints_tenant_path UNIQUE (tenant_id, http_path)
)`,
      `CREATE TABLE script_event_dead_letters (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    script_id UUID NOT NULL REFERENCES scripts(id) ON DELETE CASCADE,
    tenant_id UUID NOT NULL REFERENCES tenants(id),
    execution_id UUID REFERENCES script_executions(id) ON DELETE SET NULL,
    event_type VARCHAR(255) NOT NULL,
    event_data JSONB NOT NULL,
    error TEXT NOT NULL,
    retry_count INTEGER DEFAULT 0,
    last_retry_at TIMESTAMP WITH TIME ZONE,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
)`,
      `CREATE INDEX idx_scripts_tenant_status ON scripts(tenant_id, status)`,
      `CREATE INDEX idx_scripts_tenant_type_status ON scripts(tenant_id, type, status)`,
      `CREATE INDEX idx_scripts_http_path ON scripts(tenant_id, http_path) WHERE http_path IS NOT NULL`,
      `CREATE INDEX idx_scripts_event_types ON scripts USING GIN(event_types)`,
      `CREATE INDEX idx_scripts_cron ON scripts(tenant_id, cron_expression) WHERE cron_expression IS NOT NULL`,
      `CREATE INDEX idx_scripts_metadata ON scripts USING GIN(metadata)`,
      `CREATE INDEX idx_scripts_tags ON scripts USING GIN(tags)`,
      `CREATE INDEX idx_scripts_fulltext ON scripts USING GIN(to_tsvector('english', name || ' ' || COALESCE(description, '')))`,
      `CREATE INDEX idx_executions_script ON script_executions(script_id)`,
      `CREATE INDEX idx_executions_tenant_script ON script_executions(tenant_id, script_id)`,
      `CREATE INDEX idx_executions_tenant_status ON script_executions(tenant_id, status)`,
      `CREATE INDEX idx_executions_tenant_started ON script_executions(tenant_id, started_at DESC)`,
      `CREATE INDEX idx_executions_tenant_trigger ON script_executions(tenant_id, trigger_type)`,
      `CREATE INDEX idx_executions_pending ON script_executions(tenant_id, status) WHERE status = 'pending'`,
      `CREATE INDEX idx_executions_running ON script_executions(tenant_id, status) WHERE status = 'running'`,
      `CREATE INDEX idx_versions_script ON script_versions(script_id)`,
      `CREATE INDEX idx_versions_script_created ON script_versions(script_id, created_at DESC)`,
      `CREATE INDEX idx_versions_tenant ON script_versions(tenant_id)`,
      `CREATE INDEX idx_event_subs_tenant_event ON script_event_subscriptions(tenant_id, event_type) WHERE is_active = true`,
      `CREATE INDEX idx_event_subs_script ON script_event_subscriptions(script_id)`,
      `CREATE INDEX idx_scheduled_next_run ON script_scheduled_jobs(next_run_at) WHERE is_running = false`,
      `CREATE INDEX idx_scheduled_script ON script_scheduled_jobs(script_id)`,
      `CREATE INDEX idx_scheduled_tenant ON script_scheduled_jobs(tenant_id)`,
      `CREATE INDEX idx_http_endpoints_path ON script_http_endpoints(tenant_id, http_path) WHERE is_active = true`,
      `CREATE INDEX idx_http_endpoints_script ON script_http_endpoints(script_id)`,
      `CREATE INDEX idx_dead_letters_tenant ON script_event_dead_letters(tenant_id)`,
      `CREATE INDEX idx_dead_letters_script ON script_event_dead_letters(script_id)`,
      `CREATE INDEX idx_dead_letters_created ON script_event_dead_letters(tenant_id, created_at DESC)`,
      `CREATE INDEX idx_dead_letters_retry ON script_event_dead_letters(retry_count) WHERE retry_count < 3`,
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      `DROP TABLE IF EXISTS script_event_dead_letters CASCADE`,
      `DROP TABLE IF EXISTS script_http_endpoints CASCADE`,
      `DROP TABLE IF EXISTS script_scheduled_jobs CASCADE`,
      `DROP TABLE IF EXISTS script_event_subscriptions CASCADE`,
      `DROP TABLE IF EXISTS script_versions CASCADE`,
      `DROP TABLE IF EXISTS script_executions CASCADE`,
      `DROP TABLE IF EXISTS scripts CASCADE`,
    ]);
  }
}
