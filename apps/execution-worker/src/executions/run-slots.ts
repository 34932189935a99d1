/**
 * At most `size` script runs of this process at once (`EXECUTION_CONCURRENCY`), whatever started them
 * (inline first attempts of every partition, queue jobs, HTTP triggers); the others wait their turn in
 * order. Without it a burst claims thousands of runs at once, which then trip `max_concurrent_runs` and
 * bounce through the retry queue instead of simply waiting for the sandbox.
 */
export class RunSlots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(size: number) {
    this.free = size;
  }

  async use<T>(work: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      // The slot passes straight to the next in line, or goes back.
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }

  /** Runs waiting for a slot (a gauge for operators). */
  get queued(): number {
    return this.waiting.length;
  }
}
