import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { NotFoundError, Page, page } from '@provisio/platform';
import { EVENT_ATTEMPTS, ExecutionQueue } from '../executions/execution-queue.service';
import { ExecutionsRepository } from '../executions/executions.repository';

export interface DeadLetter {
  id: string;
  script_id: string;
  tenant_id: string;
  execution_id: string | null;
  event_type: string;
  event_data: Record<string, unknown>;
  error: string;
  retry_count: number;
  last_retry_at: Date | null;
  created_at: Date;
}

const COLUMNS = 'id, script_id, tenant_id, execution_id, event_type, event_data, error, retry_count, last_retry_at, created_at';

/** Event-triggered runs that exhausted their attempts: list, retry (a new run of the same event), discard. */
@Injectable()
export class DeadLettersService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly executions: ExecutionsRepository,
    private readonly queue: ExecutionQueue,
  ) {}

  async list(tenantId: string, query: { script_id?: string; event_type?: string; limit: number; offset: number }): Promise<Page<DeadLetter>> {
    const where = ['tenant_id = $1'];
    const params: unknown[] = [tenantId];
    if (query.script_id) where.push(`script_id = $${params.push(query.script_id)}`);
    if (query.event_type) where.push(`event_type = $${params.push(query.event_type)}`);
    const filter = where.join(' AND ');
    const [{ total }] = await this.dataSource.query(`SELECT count(*)::int AS total FROM script_event_dead_letters WHERE ${filter}`, params);
    const items: DeadLetter[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM script_event_dead_letters WHERE ${filter} ORDER BY created_at DESC, id LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, query.limit, query.offset],
    );
    return page(items, total, query);
  }

  async get(tenantId: string, id: string): Promise<DeadLetter> {
    const rows: DeadLetter[] = await this.dataSource.query(`SELECT ${COLUMNS} FROM script_event_dead_letters WHERE id = $1 AND tenant_id = $2`, [id, tenantId]);
    if (rows.length === 0) throw new NotFoundError('dead letter', id);
    return rows[0];
  }

  /** Runs the dead-lettered event again (with its full attempts); the dead letter records the retry. */
  async retry(tenantId: string, id: string, actor: string): Promise<{ dead_letter_id: string; execution_id: string }> {
    const created = await this.dataSource.transaction(async (manager) => {
      const rows: DeadLetter[] = await manager.query(`SELECT ${COLUMNS} FROM script_event_dead_letters WHERE id = $1 AND tenant_id = $2 FOR UPDATE`, [id, tenantId]);
      if (rows.length === 0) throw new NotFoundError('dead letter', id);
      const letter = rows[0];
      const { data, ...triggerData } = letter.event_data as { data?: Record<string, unknown> };
      const [execution] = await this.executions.create(manager, [
        {
          script_id: letter.script_id,
          tenant_id: tenantId,
          trigger_type: 'event',
          trigger_data: { ...triggerData, retried_from_dead_letter: letter.id },
          input: data ?? {},
          max_retries: EVENT_ATTEMPTS - 1,
          executed_by: actor,
        },
      ]);
      await manager.query('UPDATE script_event_dead_letters SET retry_count = retry_count + 1, last_retry_at = now() WHERE id = $1', [id]);
      return execution;
    });
    await this.queue.enqueue([created]);
    return { dead_letter_id: id, execution_id: created.id };
  }

  async discard(tenantId: string, id: string): Promise<void> {
    const [, affected] = await this.dataSource.query('DELETE FROM script_event_dead_letters WHERE id = $1 AND tenant_id = $2', [id, tenantId]);
    if (!affected) throw new NotFoundError('dead letter', id);
  }
}
