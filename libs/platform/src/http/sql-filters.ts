/**
 * `AND`-ed conditions of a tenant-scoped list query, with values bound as parameters: `$1` is always the
 * tenant (see `TenantScoped` of `@provisio/persistence`), so the first value is `$2`. Conditions are code,
 * never request text.
 */
export class SqlFilters {
  readonly params: unknown[] = [];
  private readonly conditions: string[];

  /** `tenantColumn` is the tenant filter every list starts with (`s.tenant_id` when the table is aliased). */
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
