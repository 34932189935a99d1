import { QueryFailedError } from 'typeorm';
import { ConflictError } from '@provisio/platform';

/** What a unique constraint means to a caller: the field it guards and how to say so. */
export type UniqueConstraints = Record<string, { field: string; message: string }>;

/**
 * Runs `work`, turning a unique violation of a known constraint into a 409 naming the field. Inside a
 * transaction the error still propagates, so the transaction rolls back and nothing is half-written.
 */
export async function guardUniques<T>(constraints: UniqueConstraints, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof QueryFailedError) {
      const driverError = error.driverError as { code?: string; constraint?: string };
      const known = driverError.code === '23505' && driverError.constraint ? constraints[driverError.constraint] : undefined;
      if (known) throw new ConflictError(known.message, known.field);
    }
    throw error;
  }
}

/**
 * `AND`-ed conditions of a tenant-scoped list query, with values bound as parameters: `$1` is always the
 * tenant (see `TenantScoped`), so the first value is `$2`. Conditions are code, never request text.
 */
export class SqlFilters {
  readonly params: unknown[] = [];
  private readonly conditions: string[];

  constructor(tenantColumn = 'tenant_id') {
    this.conditions = [`${tenantColumn} = $1`];
  }

  /** Adds a condition; each `?` in it becomes the next parameter, taking `values` in order. */
  add(condition: string, ...values: unknown[]): this {
    let next = 0;
    this.conditions.push(
      condition.replace(/\?/g, () => {
        this.params.push(values[next++]);
        return `$${this.params.length + 1}`;
      }),
    );
    return this;
  }

  get where(): string {
    return this.conditions.join(' AND ');
  }

  /** `LIMIT … OFFSET …` and the parameters of the whole statement (filters, then the page). */
  page(query: { limit: number; offset: number }): { sql: string; params: unknown[] } {
    const n = this.params.length;
    return { sql: `LIMIT $${n + 2} OFFSET $${n + 3}`, params: [...this.params, query.limit, query.offset] };
  }
}
