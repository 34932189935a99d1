// The pool's queue: one FIFO per tenant, served in turn (round robin), so one tenant's backlog never
// stands in front of another tenant's next run.

interface TenantQueue<T> {
  items: T[];
  head: number;
}

export class FairQueue<T> {
  private readonly queues = new Map<string, TenantQueue<T>>();
  /** Tenants with queued items, in the order they are served next. */
  private turn: string[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Queues `item` for `tenant`; `front` puts it before the tenant's other items (a re-queued run). */
  push(tenant: string, item: T, front = false): void {
    let queue = this.queues.get(tenant);
    if (!queue) {
      queue = { items: [], head: 0 };
      this.queues.set(tenant, queue);
      this.turn.push(tenant);
    }
    if (front) {
      if (queue.head > 0) queue.items[--queue.head] = item;
      else queue.items.unshift(item);
    } else queue.items.push(item);
    this.count++;
  }

  /**
   * Takes the next item of the first tenant in turn that `accept` takes (it answers what to do with
   * the item, or undefined to pass that tenant over this time); that tenant then goes to the back.
   */
  take<R>(accept: (tenant: string) => R | undefined): { item: T; accepted: R } | undefined {
    for (let i = 0; i < this.turn.length; i++) {
      const tenant = this.turn[i];
      const accepted = accept(tenant);
      if (accepted === undefined) continue;
      const queue = this.queues.get(tenant)!;
      const item = queue.items[queue.head];
      queue.items[queue.head++] = undefined as never;
      this.count--;
      this.turn.splice(i, 1);
      if (queue.head >= queue.items.length) this.queues.delete(tenant);
      else {
        if (queue.head > 1024 && queue.head * 2 > queue.items.length) {
          queue.items.splice(0, queue.head);
          queue.head = 0;
        }
        this.turn.push(tenant);
      }
      return { item, accepted };
    }
    return undefined;
  }

  /** Whether `tenant` has items queued. */
  has(tenant: string): boolean {
    return this.queues.has(tenant);
  }

  /** Tenants with items queued. */
  get tenants(): readonly string[] {
    return this.turn;
  }

  /** Removes and returns every item, tenant by tenant. */
  drain(): T[] {
    const out: T[] = [];
    for (const tenant of this.turn) {
      const queue = this.queues.get(tenant)!;
      for (let i = queue.head; i < queue.items.length; i++) out.push(queue.items[i]);
    }
    this.queues.clear();
    this.turn = [];
    this.count = 0;
    return out;
  }
}
