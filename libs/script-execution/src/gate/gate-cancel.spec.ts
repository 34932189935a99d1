import { LeftTheGate, RunSlots, ScriptRunGates } from './run-slots';

/** A run cancelled while it waits its turn leaves the line at once; the runs behind it move up. */
describe('gate: leaving the line when cancelled', () => {
  const deferred = () => {
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    return { done, release };
  };

  it('a waiting run whose signal aborts rejects with LeftTheGate, never runs, and gives its place to the next', async () => {
    const slots = new RunSlots(1);
    const first = deferred();
    const ran: string[] = [];
    const running = slots.use(async () => {
      ran.push('first');
      await first.done;
    });
    const cancel = new AbortController();
    const cancelled = slots.use(async () => void ran.push('cancelled'), cancel.signal);
    const third = slots.use(async () => void ran.push('third'));
    expect(slots.queued).toBe(2);
    cancel.abort();
    await expect(cancelled).rejects.toBeInstanceOf(LeftTheGate);
    expect(slots.queued).toBe(1);
    first.release();
    await Promise.all([running, third]);
    expect(ran).toEqual(['first', 'third']);
    expect(slots.idle).toBe(true);
  });

  it('an already aborted signal never waits; one aborted after its turn came changes nothing', async () => {
    const slots = new RunSlots(1);
    const first = deferred();
    const running = slots.use(() => first.done);
    const gone = new AbortController();
    gone.abort();
    await expect(slots.use(async () => 'x', gone.signal)).rejects.toBeInstanceOf(LeftTheGate);
    const late = new AbortController();
    const second = slots.use(async () => 'second', late.signal);
    first.release();
    await running;
    late.abort(); // its turn came already: it runs
    await expect(second).resolves.toBe('second');
    expect(slots.idle).toBe(true);
  });

  it("a script's gate drops a line left by its only waiter", async () => {
    const gates = new ScriptRunGates();
    const first = deferred();
    const running = gates.use('s', 1, () => first.done);
    const cancel = new AbortController();
    const waiting = gates.use('s', 1, async () => 'never', cancel.signal);
    cancel.abort();
    await expect(waiting).rejects.toBeInstanceOf(LeftTheGate);
    first.release();
    await running;
    expect(gates.size).toBe(0);
  });
});
