import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { applyMapping, createConnector, evaluatePolicy, MappableIdentity } from '@provisio/connectors';
import { MappingScriptFailed, MappingScriptRunner } from '@provisio/mapping-scripts';
import { TenantDatabase } from '@provisio/persistence';
import { APP_CONFIG, DomainError, NotFoundError, Page, page, Principal, toStorable, ValidationError, guardUniques } from '@provisio/platform';
import type { AppConfig } from '../config';
import { IdentitiesRepository } from '../identities/identities.repository';
import { checkConfig, checkCredentials, parseMapping, parsePolicy } from './connector-settings';
import { CONNECTOR_UNIQUES, ConnectorsRepository, ConnectorValues, ConnectorWithSecret } from './connectors.repository';
import { ConnectorCredentialsService } from './credentials/connector-credentials.service';
import {
  ConnectionTestDto,
  ConnectorDto,
  ConnectorSchemaDto,
  CreateConnectorDto,
  ListConnectorsQueryDto,
  PreviewDto,
  PreviewRequestDto,
  UpdateConnectorDto,
} from './dtos/connector.dto';
import { asConnectorError, callOnce, MappingScriptRejected, TargetCallFailed } from './target-calls';

export interface ReEncryptionDto {
  key_id: string;
  re_encrypted: number;
  dry_run: boolean;
}

/**
 * The connector API (seed 002's Connector): CRUD with each type's config validated by its own schema,
 * credentials encrypted at rest (ConnectorCredentialsService) and never returned, the connection test
 * and the target's schema, and the preview of what an identity would get under the connector's mapping
 * and policy. Calls to a target are made outside any transaction and bounded in time.
 */
@Injectable()
export class ConnectorsService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly connectors: ConnectorsRepository,
    private readonly identities: IdentitiesRepository,
    private readonly credentials: ConnectorCredentialsService,
    private readonly mappingScripts: MappingScriptRunner,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async list(principal: Principal, query: ListConnectorsQueryDto): Promise<Page<ConnectorDto>> {
    const { rows, total } = await this.connectors.list(this.db.read(principal), query, query);
    return page(rows, total, query);
  }

  async get(principal: Principal, id: string): Promise<ConnectorDto> {
    const row = await this.connectors.find(this.db.read(principal), id);
    if (!row) throw new NotFoundError('connector', id);
    return row;
  }

  async create(principal: Principal, dto: CreateConnectorDto): Promise<ConnectorDto> {
    checkConfig(dto.type, dto.config);
    checkCredentials(dto.type, dto.credentials);
    const mapping = parseMapping(dto.attribute_mapping ?? []);
    const policy = parsePolicy(dto.provisioning_policy ?? {});
    const id = randomUUID();
    const values: ConnectorValues = {
      name: dto.name,
      config: toStorable(dto.config),
      credentials_encrypted: dto.credentials === undefined ? null : this.credentials.encrypt(dto.credentials, { tenantId: principal.tenantId, connectorId: id }),
      status: dto.status ?? 'active',
      last_error: null,
      attribute_mapping: toStorable(mapping),
      provisioning_policy: toStorable(policy),
      mapping_script_id: dto.mapping_script_id ?? null,
    };
    return this.db.write(principal, async (tx) => {
      if (values.mapping_script_id) await this.checkMappingScript(tx, values.mapping_script_id);
      return guardUniques(CONNECTOR_UNIQUES, () => this.connectors.insert(tx, id, dto.type, values));
    });
  }

  async update(principal: Principal, id: string, dto: UpdateConnectorDto): Promise<ConnectorDto> {
    const fields = ['name', 'config', 'credentials', 'status', 'attribute_mapping', 'provisioning_policy', 'mapping_script_id'] as const;
    if (fields.every((field) => dto[field] === undefined)) throw new ValidationError('the request changes nothing: give at least one field', undefined);
    const mapping = dto.attribute_mapping !== undefined ? parseMapping(dto.attribute_mapping) : undefined;
    const policy = dto.provisioning_policy !== undefined ? parsePolicy(dto.provisioning_policy) : undefined;
    return this.db.write(principal, async (tx) => {
      const current = await this.connectors.lockWithSecret(tx, id);
      if (!current) throw new NotFoundError('connector', id);
      if (dto.config !== undefined) checkConfig(current.type, dto.config);
      if (dto.credentials !== undefined && dto.credentials !== null) checkCredentials(current.type, dto.credentials);
      if (dto.credentials === null) checkCredentials(current.type, undefined);
      if (dto.mapping_script_id) await this.checkMappingScript(tx, dto.mapping_script_id);
      const status = dto.status ?? current.status;
      const values: ConnectorValues = {
        name: dto.name ?? current.name,
        config: dto.config !== undefined ? toStorable(dto.config) : current.config,
        credentials_encrypted:
          dto.credentials === undefined
            ? current.credentials_encrypted
            : dto.credentials === null
              ? null
              : this.credentials.encrypt(dto.credentials, { tenantId: principal.tenantId, connectorId: id }),
        status,
        last_error: dto.status === 'active' ? null : current.last_error,
        attribute_mapping: mapping !== undefined ? toStorable(mapping) : current.attribute_mapping,
        provisioning_policy: policy !== undefined ? toStorable(policy) : current.provisioning_policy,
        mapping_script_id: dto.mapping_script_id !== undefined ? dto.mapping_script_id : current.mapping_script_id,
      };
      return guardUniques(CONNECTOR_UNIQUES, () => this.connectors.update(tx, id, values));
    });
  }

  /** Deletes the connector; its account links, hook bindings, operations and reconciliation data go with it. */
  async delete(principal: Principal, id: string): Promise<void> {
    const deleted = await this.db.write(principal, (tx) => this.connectors.delete(tx, id));
    if (!deleted) throw new NotFoundError('connector', id);
  }

  /** Calls the target's testConnection; a failure puts the connector in `error` with the reason, a success clears it. */
  async test(principal: Principal, id: string): Promise<ConnectionTestDto> {
    const row = await this.withSecret(principal, id);
    const credentials = this.credentialsOf(row);
    let result: { ok: boolean; latencyMs: number; details: Record<string, unknown>; error?: { code: string; message: string } };
    const started = Date.now();
    try {
      // A stored config the type no longer accepts fails here, as a failed test (InvalidConfig).
      result = await callOnce(createConnector(row.type, row.config, credentials), this.config.CONNECTOR_CALL_TIMEOUT_MS, (connector) => connector.testConnection());
    } catch (error) {
      const failure = asConnectorError(error);
      result = { ok: false, latencyMs: Date.now() - started, details: {}, error: { code: failure.code, message: failure.message } };
    }
    const reason = result.ok ? null : `${result.error?.code ?? 'error'}: ${result.error?.message ?? 'the connection test failed'}`.slice(0, 2000);
    const after = await this.connectors.recordTest(this.db.read(principal), id, result.ok, reason);
    if (!after) throw new NotFoundError('connector', id); // deleted while the test ran
    return { ok: result.ok, latency_ms: result.latencyMs, details: result.details, ...(result.error ? { error: result.error } : {}), status: after.status, last_error: after.last_error };
  }

  async schema(principal: Principal, id: string): Promise<ConnectorSchemaDto> {
    const row = await this.withSecret(principal, id);
    const credentials = this.credentialsOf(row);
    try {
      const schema = await callOnce(createConnector(row.type, row.config, credentials), this.config.CONNECTOR_CALL_TIMEOUT_MS, (connector) => connector.schema());
      return {
        object_classes: schema.objectClasses.map((objectClass) => ({
          name: objectClass.name,
          native_name: objectClass.nativeName,
          attributes: objectClass.attributes.map((a) => ({ name: a.name, type: a.type, multi_valued: a.multiValued, required: a.required, read_only: a.readOnly })),
        })),
      };
    } catch (error) {
      if (error instanceof DomainError) throw error;
      throw new TargetCallFailed(asConnectorError(error));
    }
  }

  /** What `identity` would get from this connector: policy decision and mapped attributes. Writes nothing. */
  async preview(principal: Principal, id: string, dto: PreviewRequestDto): Promise<PreviewDto> {
    if ((dto.identity_id === undefined) === (dto.identity === undefined)) throw new ValidationError('give exactly one of identity_id and identity', 'identity_id');
    const db = this.db.read(principal);
    const connector = await this.connectors.find(db, id);
    if (!connector) throw new NotFoundError('connector', id);
    let identity: MappableIdentity;
    if (dto.identity_id) {
      const stored = await this.identities.find(db, dto.identity_id);
      if (!stored) throw new NotFoundError('identity', dto.identity_id);
      identity = stored;
    } else {
      const given = dto.identity!;
      identity = { username: given.username, email: given.email ?? null, display_name: given.display_name ?? null, status: given.status ?? 'active', attributes: given.attributes ?? {} };
    }
    const decision = evaluatePolicy(parsePolicy(connector.provisioning_policy), identity);
    const mapped = applyMapping(parseMapping(connector.attribute_mapping), identity);
    let attributes = mapped.attributes;
    let script: { version: number | null; executionId: string | null } | null = null;
    if (connector.mapping_script_id) {
      try {
        const run = await this.mappingScripts.apply(
          principal.tenantId,
          connector.mapping_script_id,
          { id: connector.id, name: connector.name, type: connector.type },
          { identity, attributes },
          { triggerData: { preview: true, executed_by: principal.subject }, maxExecutionTimeMs: this.config.CONNECTOR_CALL_TIMEOUT_MS },
        );
        attributes = run.attributes;
        script = { version: run.scriptVersion, executionId: run.executionId };
      } catch (error) {
        if (error instanceof MappingScriptFailed) throw new MappingScriptRejected(error);
        throw error;
      }
    }
    return {
      covered: decision.covered,
      reason: decision.reason,
      attributes,
      missing: mapped.missing,
      would_provision: decision.covered && mapped.missing.length === 0,
      mapping_script_id: connector.mapping_script_id,
      mapping_script_applied: script !== null,
      mapping_script_version: script?.version ?? null,
      mapping_script_execution_id: script?.executionId ?? null,
    };
  }

  /** Re-encrypts the tenant's connector credentials that use an older key with the current one (key rotation). */
  async reEncrypt(principal: Principal, dryRun: boolean): Promise<ReEncryptionDto> {
    const keyId = this.credentials.currentKeyId;
    const count = await this.db.write(principal, async (tx) => {
      const rows = await this.connectors.lockEncryptedWithOtherKey(tx, keyId);
      if (dryRun) return rows.length;
      for (const row of rows) {
        const owner = { tenantId: principal.tenantId, connectorId: row.id };
        await this.connectors.setCredentials(tx, row.id, this.credentials.encrypt(this.credentials.decrypt(row.credentials_encrypted, owner), owner));
      }
      return rows.length;
    });
    return { key_id: keyId, re_encrypted: count, dry_run: dryRun };
  }

  private async withSecret(principal: Principal, id: string): Promise<ConnectorWithSecret> {
    const row = await this.connectors.findWithSecret(this.db.read(principal), id);
    if (!row) throw new NotFoundError('connector', id);
    return row;
  }

  /** The credentials for one call, decrypted in memory only (409 when the key is not configured). */
  private credentialsOf(row: ConnectorWithSecret): unknown {
    return row.credentials_encrypted ? this.credentials.decrypt(row.credentials_encrypted, { tenantId: row.tenant_id, connectorId: row.id }) : {};
  }

  private async checkMappingScript(tx: Parameters<ConnectorsRepository['embeddedScriptExists']>[0], scriptId: string): Promise<void> {
    if (!(await this.connectors.embeddedScriptExists(tx, scriptId))) {
      throw new ValidationError(`mapping_script_id: no embedded script ${scriptId} (not archived) in the tenant`, 'mapping_script_id');
    }
  }
}
