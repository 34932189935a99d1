/**
 * Gathers single calls into one call of `flush` (group commit): an item submitted while fewer than
 * `maxInFlight` flushes run is flushed at the next turn of the event loop with whatever else was
 * submitted meanwhile; while `maxInFlight` flushes run, items wait and go together in the next one. So
 * an idle queue pays no delay (a batch of one, at once) and a busy one writes many rows per statement —
 * the batch grows with the load, up to `maxSize`.
 *
 * `flush` answers one result per item, in order; if it rejects, every item of its batch rejects.
 */
export class Batcher<In, Out> {
  private waiting: { item: In; resolve: (out: Out) => void; reject: (error: unknown) => void }[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly flush: (items: In[]) => Promise<Out[]>,
    private readonly options: { maxSize: number; maxInFlight: number },
  ) {}

  submit(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.waiting.length === 0 || this.inFlight >= this.options.maxInFlight) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    while (this.waiting.length > 0 && this.inFlight < this.options.maxInFlight) {
      const batch = this.waiting.splice(0, this.options.maxSize);
      this.inFlight++;
      this.flush(batch.map((w) => w.item))
        .then(
          (results) => batch.forEach((w, i) => w.resolve(results[i])),
          (error: unknown) => batch.forEach((w) => w.reject(error)),
        )
        .finally(() => {
          this.inFlight--;
          this.schedule();
        });
    }
  }
}
