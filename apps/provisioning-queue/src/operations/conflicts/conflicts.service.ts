import { Injectable } from '@nestjs/common';
import { subjectsOf, TenantDatabase } from '@provisio/persistence';
import { ConflictError, NotFoundError, Page, page, Principal } from '@provisio/platform';
import { ConflictDto, ListConflictsQueryDto, ResolveConflictDto } from '../dtos/operation.dto';
import { cancelOperation } from '../operation-cancel';
import { OperationsRepository } from '../operations.repository';
import { ConflictRow, ConflictsRepository } from './conflicts.repository';

/**
 * Conflicts between operations of one account: list, and resolve a pending one. The outcome acts on the
 * operations: `superseded` cancels the earlier operation (a), `rejected` the later (b), when they have
 * not started; `applied` and `merged` let both run, in order (a then b: disjoint changes merge, b's
 * values win where they overlap).
 */
@Injectable()
export class ConflictsService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly conflicts: ConflictsRepository,
    private readonly operations: OperationsRepository,
  ) {}

  async list(principal: Principal, query: ListConflictsQueryDto): Promise<Page<ConflictDto>> {
    const db = this.db.read(principal);
    const { rows, total } = await this.conflicts.list(db, query, query);
    const subjects = await subjectsOf(db, rows.flatMap((r) => (r.resolved_by === null ? [] : [r.resolved_by])));
    return page(
      rows.map((row) => this.dto(row, subjects)),
      total,
      query,
    );
  }

  async resolve(principal: Principal, id: string, dto: ResolveConflictDto): Promise<ConflictDto> {
    const row = await this.db.write(principal, async (tx) => {
      const conflict = await this.conflicts.lock(tx, id);
      if (!conflict) throw new NotFoundError('conflict', id);
      if (conflict.status !== 'pending') throw new ConflictError(`conflict ${id} is already resolved (${conflict.outcome})`, 'status');
      const target = dto.outcome === 'superseded' ? conflict.operation_id_a : dto.outcome === 'rejected' ? conflict.operation_id_b : null;
      let effect = 'both operations run, in order';
      if (target) {
        const operation = await this.operations.lock(tx, target);
        const cancelled = operation ? await cancelOperation(this.operations, tx, operation, `conflict ${id} resolved ${dto.outcome} by ${principal.subject}`) : undefined;
        effect = cancelled ? `operation ${target} cancelled` : `operation ${target} had already started or finished: not cancelled`;
      }
      const notes = [dto.notes, `(${effect})`].filter(Boolean).join(' ');
      return (await this.conflicts.resolve(tx, id, dto.outcome, notes, tx.actorId))!;
    });
    return this.dto(row, new Map([[row.resolved_by!, principal.subject]]));
  }

  private dto(row: ConflictRow, subjects: Map<number, string>): ConflictDto {
    const { resolved_by, ...rest } = row;
    return { ...rest, resolved_by: resolved_by === null ? null : (subjects.get(resolved_by) ?? null) };
  }
}
