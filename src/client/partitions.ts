/**
 * Which partition of a partitioned stream an event belongs to (docs/partitioning.md,
 * "Positions"): FNV-1a (32 bit) of the tenant id's UTF-8 bytes, modulo K. The server computes the
 * same (src/bus/partitions.ts, what nats-server's partition() mapping does); the SDK keeps its own
 * copy so it stays standalone, and a unit test proves the two agree.
 */
const utf8 = new TextEncoder();

export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const byte of utf8.encode(s)) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h;
}

/** The partition (0..k-1) of a tenant's events among k partitions. */
export function partitionOf(tenantId: string, k: number): number {
  return fnv1a32(tenantId) % k;
}
