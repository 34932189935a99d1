import { RunSlots, ScriptRunGates } from './run-slots';

describe('RunSlots', () => {
  it('runs at most `size` at once, the rest in arrival order, and frees slots on failure too', async () => {
    const slots = new RunSlots(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    const gates: (() => void)[] = [];
    const work = (n: number) =>
      slots.use(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((resolve) => gates.push(resolve));
        running--;
        order.push(n);
        if (n === 1) throw new Error('boom');
        return n;
      });
    const results = [1, 2, 3, 4, 5].map((n) => work(n).catch((error: Error) => error.message));
    await new Promise((resolve) => setImmediate(resolve));
    expect({ running, queued: slots.queued }).toEqual({ running: 2, queued: 3 });
    while (order.length < 5) {
      gates.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await Promise.all(results)).toEqual(['boom', 2, 3, 4, 5]);
    expect({ peak, order, queued: slots.queued }).toEqual({ peak: 2, order: [1, 2, 3, 4, 5], queued: 0 });
  });
});

describe('ScriptRunGates', () => {
  it("runs at most a script's limit at once, other scripts unhindered, and forgets idle scripts", async () => {
    const gates = new ScriptRunGates();
    const running = new Map<string, number>();
    const peak = new Map<string, number>();
    const releases: (() => void)[] = [];
    const work = (script: string, limit: number) =>
      gates.use(script, limit, async () => {
        running.set(script, (running.get(script) ?? 0) + 1);
        peak.set(script, Math.max(peak.get(script) ?? 0, running.get(script)!));
        await new Promise<void>((resolve) => releases.push(resolve));
        running.set(script, running.get(script)! - 1);
      });
    const all = [...Array.from({ length: 5 }, () => work('a', 2)), ...Array.from({ length: 3 }, () => work('b', 3))];
    await new Promise((resolve) => setImmediate(resolve));
    expect(Object.fromEntries(running)).toEqual({ a: 2, b: 3 });
    while (releases.length) {
      releases.shift()!();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(all);
    expect(Object.fromEntries(peak)).toEqual({ a: 2, b: 3 });
    expect(gates.size).toBe(0);
  });
});
