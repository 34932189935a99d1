import { retryOnDeadlock } from './deadlock-retry';

const failing = (code: string, times: number) => {
  let calls = 0;
  const work = async () => {
    calls++;
    if (calls <= times) throw Object.assign(new Error(`sql ${code}`), { code });
    return 'done';
  };
  return { work, calls: () => calls };
};

describe('retryOnDeadlock', () => {
  it('runs a transaction the database rolled back for a deadlock again', async () => {
    const t = failing('40P01', 2);
    await expect(retryOnDeadlock(t.work)).resolves.toBe('done');
    expect(t.calls()).toBe(3);
  });

  it('gives up after the attempts it was given', async () => {
    const t = failing('40001', 5);
    await expect(retryOnDeadlock(t.work, 2)).rejects.toThrow('sql 40001');
    expect(t.calls()).toBe(2);
  });

  it('never retries other errors', async () => {
    const t = failing('23505', 1);
    await expect(retryOnDeadlock(t.work)).rejects.toThrow('sql 23505');
    expect(t.calls()).toBe(1);
  });
});
