import { RunSlots } from './run-slots';

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
