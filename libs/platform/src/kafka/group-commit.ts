/**
 * Joins the groups that several partitions hand in at the same moment into one application (one
 * transaction and one follow-up instead of one per partition). With partitions consumed concurrently,
 * every fetch gives each partition a small batch; round trips, not rows, are what a batch costs, so
 * twelve partitions applied together cost about what one does.
 *
 * Each caller waits for the application that took its items. If it fails, every caller in it gets the
 * error: as is when it was alone, wrapped in JointApplyFailed when it shared the application with
 * others (so it can retry its own items alone before blaming one of them).
 */
export class GroupCommit<T> {
  private queued: { items: T[]; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly apply: (items: T[]) => Promise<void>,
    /** Items one application takes at most (a single caller's group is never split). */
    private readonly maxItems: number,
  ) {}

  submit(items: T[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queued.push({ items, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // The partitions of one fetch are handed in within the same turn of the event loop.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    while (this.queued.length) {
      const callers = [this.queued.shift()!];
      let count = callers[0].items.length;
      while (this.queued.length && count + this.queued[0].items.length <= this.maxItems) {
        const next = this.queued.shift()!;
        count += next.items.length;
        callers.push(next);
      }
      void this.apply(callers.flatMap((c) => c.items)).then(
        () => callers.forEach((c) => c.resolve()),
        (error: unknown) => callers.forEach((c) => c.reject(callers.length > 1 ? new JointApplyFailed(error) : error)),
      );
    }
  }
}

/** The application a caller shared with other partitions' groups failed; `cause` is why. */
export class JointApplyFailed extends Error {
  constructor(override readonly cause: unknown) {
    super(`a joint application of several partitions' events failed: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}
