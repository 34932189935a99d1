import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { applyMapping, Attributes } from '@provisio/connectors';
import { OPERATION_STATUS_TRANSITIONS, OperationStatus, TenantDatabase } from '@provisio/persistence';
import { InvalidTransitionError, NotFoundError, Page, page, Principal, toStorableJson, ValidationError } from '@provisio/platform';
import { parseMapping } from '../connectors/connector-settings';
import { IdentitiesRepository } from '../identities/identities.repository';
import {
  BulkRetryDto,
  BulkRetryResultDto,
  ConnectorStatisticsDto,
  CreateOperationDto,
  ListOperationsQueryDto,
  OperationDetailDto,
  OperationDto,
  RetryOperationDto,
  TenantStatisticsDto,
} from './dtos/operation.dto';
import { cancelOperation } from './operation-cancel';
import { HookVersionsMode, OperationPayload } from './operation-plan';
import { OperationPlanner } from './operation-planner.service';
import { OperationFilter, OperationRow, OperationsRepository } from './operations.repository';
import { Circuits } from './queue/circuits';
import { OperationQueue } from './queue/operation-queue.service';

/** The API view of a row (the queue's own bookkeeping columns stay inside). */
export function operationDto(row: OperationRow): OperationDto {
  return {
    id: row.id,
    tenant_id: row.tenant_id,
    connector_id: row.connector_id,
    connector_name: row.connector_name,
    user_id: row.user_id,
    operation_type: row.operation_type,
    object_class: row.object_class,
    target_uid: row.target_uid,
    status: row.status,
    priority: row.priority,
    retry_count: row.retry_count,
    max_retries: row.max_retries,
    error_message: row.error_message,
    payload: row.payload as unknown as Record<string, unknown>,
    created_at: row.created_at,
    updated_at: row.updated_at,
    completed_at: row.completed_at,
    resolution_notes: row.resolution_notes,
    next_attempt_at: row.next_attempt_at,
  };
}

const filterOf = (query: OperationFilter): OperationFilter => ({
  status: query.status,
  connector_id: query.connector_id,
  user_id: query.user_id,
  operation_type: query.operation_type,
  created_after: query.created_after,
  created_before: query.created_before,
});

/** The operations API: list, get with attempts and logs, create, retry (one or by filter), cancel, resolve, statistics. */
@Injectable()
export class OperationsService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly operations: OperationsRepository,
    private readonly identities: IdentitiesRepository,
    private readonly planner: OperationPlanner,
    private readonly queue: OperationQueue,
    private readonly circuits: Circuits,
  ) {}

  async list(principal: Principal, query: ListOperationsQueryDto): Promise<Page<OperationDto>> {
    const { rows, total } = await this.operations.list(this.db.read(principal), filterOf(query), query);
    return page(rows.map(operationDto), total, query);
  }

  /** The dead-letter queue: dead-lettered operations, newest first. */
  async deadLetters(principal: Principal, query: ListOperationsQueryDto): Promise<Page<OperationDto>> {
    const { rows, total } = await this.operations.list(this.db.read(principal), { ...filterOf(query), status: 'dead_letter' }, query, 'updated_at DESC, id');
    return page(rows.map(operationDto), total, query);
  }

  async get(principal: Principal, id: string): Promise<OperationDetailDto> {
    const db = this.db.read(principal);
    const row = await this.operations.find(db, id);
    if (!row) throw new NotFoundError('operation', id);
    const [attempts, logs] = await Promise.all([this.operations.attempts(db, id), this.operations.logs(db, id)]);
    return { ...operationDto(row), attempts, logs };
  }

  async create(principal: Principal, dto: CreateOperationDto): Promise<OperationDto> {
    if (!dto.user_id && !dto.target_uid && dto.operation_type !== 'create') throw new ValidationError(`an ${dto.operation_type} needs user_id or target_uid`, 'target_uid');
    if (dto.operation_type === 'update' && dto.attributes === undefined && dto.enabled === undefined && !dto.user_id) {
      throw new ValidationError('an update needs attributes or enabled (or user_id, to write the mapped attributes)', 'attributes');
    }
    if (dto.operation_type === 'create' && !dto.user_id && dto.attributes === undefined) throw new ValidationError('a create needs attributes or user_id', 'attributes');
    const created = await this.db.write(principal, async (tx) => {
      const connector = await this.operations.connector(tx, dto.connector_id);
      if (!connector) throw new NotFoundError('connector', dto.connector_id);
      let attributes = dto.attributes as Attributes | undefined;
      let mappingScriptId: string | undefined;
      if (dto.user_id) {
        const identity = await this.identities.find(tx, dto.user_id);
        if (!identity) throw new NotFoundError('identity', dto.user_id);
        if (attributes === undefined && dto.operation_type !== 'delete') {
          attributes = applyMapping(parseMapping(connector.attribute_mapping), identity).attributes;
          mappingScriptId = connector.mapping_script_id ?? undefined; // runs on the mapped attributes when the operation runs
        }
      }
      const hookOperation = dto.operation_type === 'update' && attributes === undefined && dto.enabled !== undefined ? (dto.enabled ? 'enable' : 'disable') : dto.operation_type;
      const payload: OperationPayload = {
        hook_operation: hookOperation,
        ...(attributes !== undefined ? { attributes } : {}),
        ...(dto.operation_type === 'update' && attributes !== undefined ? { delta: { replace: attributes, remove: [] } } : {}),
        ...(dto.enabled !== undefined ? { enabled: dto.enabled } : {}),
        ...(mappingScriptId ? { mapping_script_id: mappingScriptId } : {}),
        cause: { kind: 'operator', subject: principal.subject },
      };
      const [row] = await this.planner.create(tx, [
        {
          connector_id: connector.id,
          connector_name: connector.name,
          user_id: dto.user_id ?? null,
          operation_type: dto.operation_type,
          object_class: 'account',
          target_uid: dto.target_uid ?? null,
          account_key: dto.user_id ?? (dto.target_uid ? `uid:${dto.target_uid}` : `new:${randomUUID()}`),
          priority: dto.priority ?? 0,
          max_retries: dto.max_retries ?? 3,
          payload,
        },
      ]);
      return row;
    });
    await this.queue.enqueue([created]);
    return operationDto(created);
  }

  /**
   * failed → pending now (skipping the backoff), or dead_letter → pending with its retries renewed. Its
   * hooks run the versions they ran at before, or the live ones with `hook_versions: latest`.
   */
  async retry(principal: Principal, id: string, dto: RetryOperationDto = {}): Promise<OperationDto> {
    const row = await this.db.write(principal, async (tx) => {
      const current = await this.operations.lock(tx, id);
      if (!current) throw new NotFoundError('operation', id);
      const retried = await this.retryOne(tx, current, principal.subject, dto.hook_versions ?? 'original');
      if (!retried) throw new InvalidTransitionError('operation', current.status, 'pending', ['failed', 'dead_letter']);
      return retried;
    });
    await this.queue.enqueue([row]);
    return operationDto(row);
  }

  async bulkRetry(principal: Principal, dto: BulkRetryDto): Promise<BulkRetryResultDto> {
    const from: OperationStatus = dto.from_status ?? 'dead_letter';
    const rows = await this.db.write(principal, async (tx) => {
      const matching = await this.operations.lockMatching(tx, filterOf(dto), [from], dto.limit ?? 1_000);
      const retried: OperationRow[] = [];
      for (const row of matching) {
        const done = await this.retryOne(tx, row, principal.subject, dto.hook_versions ?? 'original');
        if (done) retried.push(done);
      }
      return retried;
    });
    await this.queue.enqueue(rows);
    return { retried: rows.length, operation_ids: rows.map((r) => r.id) };
  }

  private async retryOne(tx: Parameters<OperationsRepository['log']>[0], current: OperationRow, subject: string, hookVersions: HookVersionsMode): Promise<OperationRow | undefined> {
    // The payload says which hook versions the runs from now on take (absent: original, pinned).
    const { hook_versions: _previous, ...rest } = current.payload;
    const payload = toStorableJson(hookVersions === 'latest' ? { ...rest, hook_versions: 'latest' } : rest);
    const versions = hookVersions === 'latest' ? "the hooks' live script versions" : 'the hook script versions it ran with';
    if (current.status === 'failed') {
      const row = await this.operations.transition(tx, current.id, ['failed'], 'pending', { next_attempt_at: null, payload });
      if (row) await this.operations.log(tx, current.id, 'info', `retried now by ${subject}, with ${versions}`);
      return row;
    }
    if (current.status === 'dead_letter') {
      const row = await this.operations.transition(tx, current.id, ['dead_letter'], 'pending', { retry_count: 0, next_attempt_at: null, completed_at: null, payload });
      if (row) await this.operations.log(tx, current.id, 'info', `taken out of the dead-letter queue and retried by ${subject} (retries renewed), with ${versions}`);
      return row;
    }
    return undefined;
  }

  async cancel(principal: Principal, id: string): Promise<OperationDto> {
    return operationDto(
      await this.db.write(principal, async (tx) => {
        const current = await this.operations.lock(tx, id);
        if (!current) throw new NotFoundError('operation', id);
        const cancelled = await cancelOperation(this.operations, tx, current, `cancelled by ${principal.subject}`);
        if (!cancelled) throw new InvalidTransitionError('operation', current.status, 'cancelled', ['pending', 'failed', 'awaiting_system']);
        return cancelled;
      }),
    );
  }

  /** dead_letter → resolved: an operator settled it outside Provisio; the notes say how. */
  async resolve(principal: Principal, id: string, notes: string): Promise<OperationDto> {
    return operationDto(
      await this.db.write(principal, async (tx) => {
        const current = await this.operations.lock(tx, id);
        if (!current) throw new NotFoundError('operation', id);
        const resolved = await this.operations.transition(tx, id, ['dead_letter'], 'resolved', { resolution_notes: notes, completed_at: new Date() });
        if (!resolved) throw new InvalidTransitionError('operation', current.status, 'resolved', OPERATION_STATUS_TRANSITIONS.dead_letter.includes('resolved') ? ['dead_letter'] : []);
        await this.operations.log(tx, id, 'info', `resolved by ${principal.subject}: ${notes}`);
        return resolved;
      }),
    );
  }

  async statistics(principal: Principal, connectorId?: string): Promise<TenantStatisticsDto> {
    const db = this.db.read(principal);
    const [total, byConnector] = await Promise.all([this.operations.statistics(db), this.operations.statisticsByConnector(db)]);
    const connectors = byConnector.filter((row) => connectorId === undefined || row.connector_id === connectorId);
    return { ...(total as unknown as TenantStatisticsDto), connectors: connectors.map((row) => this.withCircuit(row)) };
  }

  async connectorStatistics(principal: Principal, connectorId: string): Promise<ConnectorStatisticsDto> {
    const db = this.db.read(principal);
    const connector = await this.operations.connector(db, connectorId);
    if (!connector) throw new NotFoundError('connector', connectorId);
    const stats = await this.operations.statistics(db, connectorId);
    return this.withCircuit({ ...stats, connector_id: connectorId, connector_name: connector.name });
  }

  private withCircuit(row: Record<string, number | string> & { connector_id: string; connector_name: string }): ConnectorStatisticsDto {
    const circuit = this.circuits.state(row.connector_id);
    // After a restart, waiting operations say the circuit is open before the probe has tripped it again.
    const open = circuit !== undefined || Number(row.awaiting_system) > 0;
    return {
      ...(row as unknown as ConnectorStatisticsDto),
      circuit: { state: open ? 'open' : 'closed', opened_at: circuit?.openedAt ?? null, last_error: circuit?.lastError ?? null, last_probe_at: circuit?.lastProbeAt ?? null },
    };
  }
}
