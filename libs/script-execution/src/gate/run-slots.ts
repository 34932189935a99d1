// The two in-process steps of ScriptRunGate (script-run-gate.ts says what the gate guarantees).

/** A run cancelled while it waited its turn: it left the line and never ran. */
export class LeftTheGate extends Error {
  constructor() {
    super('cancelled while waiting its turn at the gate');
  }
}

/**
 * At most `size` script runs of this process at once (`runsPerProcess`: the worker's EXECUTION_CONCURRENCY), whatever started them
 * (inline first attempts of every partition, queue jobs, HTTP triggers); the others wait their turn in
 * order. Without it a burst claims thousands of runs at once, which then trip `max_concurrent_runs` and
 * bounce through the retry queue instead of simply waiting for the sandbox.
 */
export class RunSlots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly size: number) {
    this.free = size;
  }

  /** Runs `work` in a slot; a run whose `signal` aborts while it waits leaves the line (LeftTheGate) and never runs. */
  async use<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.free > 0) this.free--;
    else await this.wait(signal);
    try {
      return await work();
    } finally {
      // The slot passes straight to the next in line, or goes back.
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }

  private wait(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new LeftTheGate());
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const at = this.waiting.indexOf(granted);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(new LeftTheGate());
      };
      // The slot handed over is the run's from here on: a late abort no longer takes it out of line.
      const granted = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(granted);
    });
  }

  /** Runs waiting for a slot (a gauge for operators). */
  get queued(): number {
    return this.waiting.length;
  }

  /** Nothing runs and nothing waits. */
  get idle(): boolean {
    return this.free === this.size && this.waiting.length === 0;
  }
}

/**
 * One script's runs in this process, at most its `max_concurrent_runs` at once, in arrival order. A run
 * takes its place here before it takes one of the process's RunSlots, so a burst of one script never
 * fills the run slots with runs that cannot start, and this process never asks Redis (which enforces
 * the limit across replicas) for more slots than the script may have: only another replica's runs can
 * make Redis refuse.
 */
export class ScriptRunGates {
  private readonly gates = new Map<string, RunSlots>();

  async use<T>(scriptId: string, limit: number, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    // Keyed by the limit too: a script saved with a new limit gets a new gate (the old one drains).
    const key = `${scriptId}:${limit}`;
    let gate = this.gates.get(key);
    if (!gate) this.gates.set(key, (gate = new RunSlots(limit)));
    try {
      return await gate.use(work, signal);
    } finally {
      if (gate.idle && this.gates.get(key) === gate) this.gates.delete(key);
    }
  }

  /** Scripts with runs here (tests check that the gates of idle scripts are dropped). */
  get size(): number {
    return this.gates.size;
  }
}
