import { GroupCommit, JointApplyFailed } from './group-commit';

describe('GroupCommit', () => {
  it('applies the groups handed in during one turn together, once', async () => {
    const applied: number[][] = [];
    const commit = new GroupCommit<number>(async (items) => void applied.push(items), 100);
    await Promise.all([commit.submit([1, 2]), commit.submit([3]), commit.submit([4, 5])]);
    expect(applied).toEqual([[1, 2, 3, 4, 5]]);
  });

  it('splits at maxItems without splitting a caller, and applies a lone oversized group whole', async () => {
    const applied: number[][] = [];
    const commit = new GroupCommit<number>(async (items) => void applied.push(items), 3);
    await Promise.all([commit.submit([1, 2]), commit.submit([3, 4]), commit.submit([5]), commit.submit([6, 7, 8, 9])]);
    expect(applied).toEqual([[1, 2], [3, 4, 5], [6, 7, 8, 9]]);
  });

  it('gives a lone caller the error as is, and callers that shared the application a JointApplyFailed', async () => {
    const boom = new Error('boom');
    const commit = new GroupCommit<number>(async () => Promise.reject(boom), 100);
    await expect(commit.submit([1])).rejects.toBe(boom);
    const shared = await Promise.allSettled([commit.submit([1]), commit.submit([2])]);
    for (const outcome of shared) {
      expect(outcome.status).toBe('rejected');
      const reason = (outcome as PromiseRejectedResult).reason as JointApplyFailed;
      expect(reason).toBeInstanceOf(JointApplyFailed);
      expect(reason.cause).toBe(boom);
    }
  });

  it('starts a new application for groups handed in while one is running', async () => {
    const applied: number[][] = [];
    let release!: () => void;
    const first = new Promise<void>((resolve) => (release = resolve));
    const commit = new GroupCommit<number>(async (items) => {
      applied.push(items);
      if (items[0] === 1) await first;
    }, 100);
    const a = commit.submit([1]);
    await new Promise((resolve) => setImmediate(resolve));
    const b = commit.submit([2]);
    await b; // not held behind the running one
    expect(applied).toEqual([[1], [2]]);
    release();
    await a;
  });
});
