import { FairQueue } from './fair-queue';

describe('FairQueue', () => {
  it('serves tenants in turn, each in its own order', () => {
    const queue = new FairQueue<string>();
    for (const item of ['a1', 'a2', 'a3', 'a4']) queue.push('a', item);
    queue.push('b', 'b1');
    queue.push('b', 'b2');
    queue.push('c', 'c1');
    const order: string[] = [];
    for (let next = queue.take(() => true); next; next = queue.take(() => true)) order.push(next.item);
    expect(order).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3', 'a4']);
    expect(queue.size).toBe(0);
  });

  it('passes over a tenant that cannot be served now, and puts a re-queued item first', () => {
    const queue = new FairQueue<string>();
    queue.push('heavy', 'h1');
    queue.push('heavy', 'h2');
    queue.push('light', 'l1');
    expect(queue.take((tenant) => (tenant === 'heavy' ? undefined : 'slot'))).toEqual({ item: 'l1', accepted: 'slot' });
    expect(queue.take(() => undefined)).toBeUndefined();
    queue.push('heavy', 'h0', true);
    expect(queue.take(() => true)?.item).toBe('h0');
    expect(queue.has('heavy')).toBe(true);
    expect(queue.drain()).toEqual(['h1', 'h2']);
    expect(queue.size).toBe(0);
    expect(queue.has('heavy')).toBe(false);
  });
});
