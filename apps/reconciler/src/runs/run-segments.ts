import type { SegmentKey } from './run-segments.repository';

const UUID_SPACE = 1n << 128n;

function uuidOf(value: bigint): string {
  const hex = value.toString(16).padStart(32, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The identity store cut into `count` id ranges `after..upTo` (after exclusive, upTo inclusive) of equal
 * width over the uuid space: identity ids are random (gen_random_uuid), so the ranges hold about as many
 * identities each, and they need no read to be cut.
 */
export function identityRanges(count: number): string[] {
  const n = BigInt(Math.max(1, Math.floor(count)));
  const bound = (i: bigint) => (i === n ? UUID_SPACE - 1n : (i * UUID_SPACE) / n);
  return Array.from({ length: Number(n) }, (_, i) => `${uuidOf(bound(BigInt(i)))}..${uuidOf(bound(BigInt(i) + 1n))}`);
}

/** A segment's BullMQ job id: run, segment and generation (the sweep's takeover makes a new one; `:` is not allowed in BullMQ ids). */
export function segmentJobId(segment: SegmentKey, generation: number): string {
  return `${segment.run_id}-${segment.kind}-${segment.segment}-g${generation}`;
}
