import { Batcher } from './batcher';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Batcher', () => {
  it('flushes what was submitted in one turn together, and answers each its own result', async () => {
    const flushed: number[][] = [];
    const batcher = new Batcher<number, number>(async (items) => (flushed.push(items), items.map((n) => n * 10)), { maxSize: 10, maxInFlight: 1 });
    expect(await Promise.all([1, 2, 3].map((n) => batcher.submit(n)))).toEqual([10, 20, 30]);
    expect(flushed).toEqual([[1, 2, 3]]);
  });

  it('holds what arrives while maxInFlight flushes run, and sends it in the next batch, at most maxSize at once', async () => {
    const flushed: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const batcher = new Batcher<number, number>(
      async (items) => {
        flushed.push(items);
        if (flushed.length === 1) await gate;
        return items;
      },
      { maxSize: 2, maxInFlight: 1 },
    );
    const first = batcher.submit(0);
    await tick();
    const rest = [1, 2, 3, 4, 5].map((n) => batcher.submit(n));
    await tick();
    expect(flushed).toEqual([[0]]); // the others wait for the flush in flight
    release();
    expect(await Promise.all([first, ...rest])).toEqual([0, 1, 2, 3, 4, 5]);
    expect(flushed).toEqual([[0], [1, 2], [3, 4], [5]]);
  });

  it('rejects every item of a batch whose flush failed, and goes on with the next', async () => {
    let calls = 0;
    const batcher = new Batcher<number, number>(
      async (items) => {
        calls++;
        if (calls === 1) throw new Error('statement failed');
        return items;
      },
      { maxSize: 10, maxInFlight: 1 },
    );
    const failed = [batcher.submit(1), batcher.submit(2)];
    await expect(failed[0]).rejects.toThrow('statement failed');
    await expect(failed[1]).rejects.toThrow('statement failed');
    expect(await batcher.submit(3)).toBe(3);
  });
});
