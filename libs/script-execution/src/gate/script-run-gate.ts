import { RateLimitedError } from '@provisio/platform';
import { RunSlots, ScriptRunGates } from './run-slots';
import type { ScriptConcurrency } from './script-concurrency';

/** The script already runs `max_concurrent_runs` times (across replicas): try again shortly. */
export class ConcurrencyLimitReached extends RateLimitedError {}

export interface GatedRun {
  scriptId: string;
  /** The script's `max_concurrent_runs` (after the tenant's cap). */
  limit: number;
  /** How long a cross-replica slot is leased for (renewed while held): the run's time limit plus a margin. */
  leaseMs: number;
  /** Hold the limit across replicas too (step 3); false for dry runs, which wait in a line of their own. */
  acrossReplicas: boolean;
}

/**
 * THE per-script concurrency gate of every run (the pool is told the run holds its place, so it takes
 * none of its own). What it guarantees, in the order a run goes through it:
 *
 *  1. at most `max_concurrent_runs` runs of a script at once in this process, the others waiting in
 *     arrival order (ScriptRunGates) — so a backlog of one script never holds more than it can use;
 *  2. at most `runsPerProcess` runs of this process at once, whatever their script (RunSlots), taken
 *     only by runs their script lets start — a burst of one script never fills them;
 *  3. at most `max_concurrent_runs` runs of a script across every replica (ScriptConcurrency: Redis
 *     leases, served from tokens this process already holds). Only another replica's runs can leave no
 *     slot free here: the run is refused with ConcurrencyLimitReached and its caller queues it.
 *
 * An app without Redis (the registry's dry runs) gets 1 and 2 only; one without a process bound, 1 and 3.
 */
export class ScriptRunGate {
  private readonly scripts = new ScriptRunGates();
  private readonly process?: RunSlots;

  constructor(
    runsPerProcess: number | undefined,
    private readonly acrossReplicas?: ScriptConcurrency,
  ) {
    if (runsPerProcess !== undefined) this.process = new RunSlots(runsPerProcess);
  }

  /** `signal`: the run is cancelled; while it still waits in this process (steps 1 and 2) it leaves the line at once (LeftTheGate). */
  use<T>(run: GatedRun, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.scripts.use(run.scriptId, run.limit, () => (this.process ? this.process.use(() => this.acrossReplicasThen(run, work), signal) : this.acrossReplicasThen(run, work)), signal);
  }

  private async acrossReplicasThen<T>(run: GatedRun, work: () => Promise<T>): Promise<T> {
    if (!this.acrossReplicas || !run.acrossReplicas) return work();
    const token = await this.acrossReplicas.take(run.scriptId, run.limit, run.leaseMs);
    if (!token) throw new ConcurrencyLimitReached(`script ${run.scriptId} is at its max_concurrent_runs (${run.limit})`);
    try {
      return await work();
    } finally {
      this.acrossReplicas.give(run.scriptId, run.limit, token);
    }
  }
}
