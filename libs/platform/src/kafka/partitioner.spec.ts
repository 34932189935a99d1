import { randomBytes, randomUUID } from 'node:crypto';
import type { PartitionMetadata } from 'kafkajs';
import { JavaCompatiblePartitioner, murmur2 } from './partitioner';

// kafkajs's implementation, the reference the fast one must match bit for bit.
const kafkajsMurmur2: (key: Buffer) => number = require('kafkajs/src/producer/partitioners/default/murmur2');

describe('murmur2', () => {
  it('gives the Java client’s values (Kafka UtilsTest vectors)', () => {
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, expected] of vectors) expect([key, murmur2(Buffer.from(key))]).toEqual([key, expected]);
  });

  it('matches kafkajs on message keys and random bytes of every length remainder', () => {
    const keys = [
      ...Array.from({ length: 500 }, () => Buffer.from(`${randomUUID()}:script:${randomUUID()}`)),
      ...Array.from({ length: 500 }, (_, i) => randomBytes(i % 67)),
      Buffer.from('ünïcødé-ключ'),
    ];
    for (const key of keys) expect(murmur2(key)).toBe(kafkajsMurmur2(key));
  });
});

describe('JavaCompatiblePartitioner', () => {
  const partitionMetadata: PartitionMetadata[] = Array.from({ length: 12 }, (_, partitionId) => ({ partitionId, leader: partitionId === 3 ? -1 : 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));
  const partition = JavaCompatiblePartitioner();

  it('puts a key where kafkajs’s DefaultPartitioner does, and keeps an explicit partition', () => {
        const reference = require('kafkajs').Partitioners.DefaultPartitioner();
    for (let i = 0; i < 200; i++) {
      const message = { key: `tenant-${i}:script:${randomUUID()}`, value: 'x' };
      expect(partition({ topic: 't', partitionMetadata, message })).toBe(reference({ topic: 't', partitionMetadata, message }));
    }
    expect(partition({ topic: 't', partitionMetadata, message: { key: 'k', value: 'x', partition: 7 } })).toBe(7);
  });

  it('spreads keyless messages over available partitions only', () => {
    const seen = new Set(Array.from({ length: 100 }, () => partition({ topic: 'u', partitionMetadata, message: { value: 'x' } })));
    expect(seen.has(3)).toBe(false);
    expect(seen.size).toBe(11);
  });
});
