import type { ICustomPartitioner } from 'kafkajs';

/**
 * Kafka's murmur2 (the Java client's `Utils.murmur2`), on 32-bit integers with `Math.imul`. kafkajs's own
 * emulates 64-bit `Long` arithmetic for it, which was a tenth of the outbox relay's CPU time; the results
 * are the same (see partitioner.spec.ts), so keys land on the partitions every other client picks.
 */
export function murmur2(key: Buffer): number {
  const m = 0x5bd1e995;
  const length = key.length;
  let h = 0x9747b28c ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = key[i] | (key[i + 1] << 8) | (key[i + 2] << 16) | (key[i + 3] << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  // The last 1-3 bytes (the Java original falls through a switch).
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= key[whole + 2] << 16;
    if (rest >= 2) h ^= key[whole + 1] << 8;
    h ^= key[whole];
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * kafkajs's `DefaultPartitioner` (Java-compatible: `murmur2(key) & 0x7fffffff % partitions`; round robin over
 * available partitions for keyless messages), with the fast murmur2 and no per-message allocation.
 */
export const JavaCompatiblePartitioner: ICustomPartitioner = () => {
  const counters = new Map<string, number>();
  return ({ topic, partitionMetadata, message }) => {
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    if (message.key !== null && message.key !== undefined) {
      const key = Buffer.isBuffer(message.key) ? message.key : Buffer.from(String(message.key));
      return (murmur2(key) & 0x7fffffff) % partitionMetadata.length;
    }
    const next = (counters.get(topic) ?? Math.floor(Math.random() * 0x7fffffff)) + 1;
    counters.set(topic, next);
    const available = partitionMetadata.filter((p) => p.leader >= 0);
    return available.length ? available[next % available.length].partitionId : next % partitionMetadata.length;
  };
};
