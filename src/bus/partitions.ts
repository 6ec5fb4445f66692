/**
 * Partitions of the durable path (README.md, "Partitions"; docs/partitioning.md). With
 * STREAM_PARTITIONS=K > 1 the stream is split by tenant into K streams:
 *
 *   producer --JetStream--> in.sms.<tenant>.<app>.<kind>
 *     nats-server account mapping (rendered by renderMappings, in nats.conf):
 *       in.sms.*.*.* -> in.sms.{{partition(K,1)}}.{{wildcard(1)}}.{{wildcard(2)}}.{{wildcard(3)}}
 *   in.sms.<k>.<tenant>.<app>.<kind>   stored in SMS_EVENTS_<k>
 *   SMS_EVENTS_<k> --RePublish--> sms.<tenant>.<app>.<kind>   (the unchanged live subjects)
 *
 * k is what nats-server computes: FNV-1a (32 bit) of the tenant token, modulo K. Nodes compute the
 * same to find a tenant's stream (resume, gap repair, history). With K=1 there is one partition,
 * exactly the single stream SMS_EVENTS of src/bus/contract.ts, and no mapping.
 */
import { DURABLE_PREFIX, LIVE_PREFIX, STREAM_NAME } from "./contract.js";

export const MAX_PARTITIONS = 1024;

export interface Partition {
  readonly index: number;
  /** K: how many partitions there are. */
  readonly count: number;
  readonly stream: string;
  /** `in.sms` (K=1) or `in.sms.<k>`: what replaces `sms` in a live subject to give the stored one. */
  readonly storedPrefix: string;
  /** The stream's subjects. */
  readonly storedSubjects: string;
  readonly republish: { readonly src: string; readonly dest: string };
}

/** FNV-1a, 32 bit, of the UTF-8 bytes of `s` (Go's hash/fnv New32a, which nats-server uses). */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(s, "utf8")) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The partition nats-server's `{{partition(count,1)}}` gives the tenant token. */
export function partitionIndex(tenantId: string, count: number): number {
  return count <= 1 ? 0 : fnv1a32(tenantId) % count;
}

/** The name of partition k's stream. */
export function partitionStream(index: number, count: number): string {
  return count <= 1 ? STREAM_NAME : `${STREAM_NAME}_${index}`;
}

function partition(index: number, count: number): Partition {
  if (count <= 1) {
    return Object.freeze({
      index: 0,
      count: 1,
      stream: STREAM_NAME,
      storedPrefix: DURABLE_PREFIX,
      storedSubjects: `${DURABLE_PREFIX}.>`,
      republish: Object.freeze({ src: `${DURABLE_PREFIX}.>`, dest: `${LIVE_PREFIX}.>` }),
    });
  }
  const storedPrefix = `${DURABLE_PREFIX}.${index}`;
  const storedSubjects = `${storedPrefix}.*.*.*`;
  return Object.freeze({
    index,
    count,
    stream: partitionStream(index, count),
    storedPrefix,
    storedSubjects,
    republish: Object.freeze({ src: storedSubjects, dest: `${LIVE_PREFIX}.{{wildcard(1)}}.{{wildcard(2)}}.{{wildcard(3)}}` }),
  });
}

/**
 * The K partitions and the tenant -> partition function (remembered per tenant, within a bound:
 * it runs per live event on the gap-repair stage).
 */
export class Partitions {
  readonly all: readonly Partition[];
  readonly #byTenant = new Map<string, Partition>();

  constructor(readonly count: number) {
    if (!Number.isSafeInteger(count) || count < 1 || count > MAX_PARTITIONS) throw new Error(`partition count must be 1..${MAX_PARTITIONS}: got ${count}`);
    this.all = Object.freeze(Array.from({ length: count }, (_, k) => partition(k, count)));
  }

  get partitioned(): boolean {
    return this.count > 1;
  }

  ofTenant(tenantId: string): Partition {
    if (this.count === 1) return this.all[0] as Partition;
    let p = this.#byTenant.get(tenantId);
    if (p === undefined) {
      if (this.#byTenant.size >= 100_000) this.#byTenant.clear();
      p = this.all[partitionIndex(tenantId, this.count)] as Partition;
      this.#byTenant.set(tenantId, p);
    }
    return p;
  }

  /** The partition of a stream name, or undefined when it is none of ours. */
  ofStream(stream: string): Partition | undefined {
    return this.all.find((p) => p.stream === stream);
  }
}

/** `sms.t.a.*` -> the stored subject (or filter) in a partition. */
export function storedOfLiveIn(p: Partition, live: string): string {
  return `${p.storedPrefix}${live.slice(LIVE_PREFIX.length)}`;
}

/** A stored subject of a partition -> the live subject it is republished to. */
export function liveOfStoredIn(p: Partition, stored: string): string {
  return `${LIVE_PREFIX}${stored.slice(p.storedPrefix.length)}`;
}

/** The account mapping that sends producers' subjects to the partitions (none for K=1). */
export function partitionMapping(count: number): { src: string; dest: string } | undefined {
  if (count <= 1) return undefined;
  return {
    src: `${DURABLE_PREFIX}.*.*.*`,
    dest: `${DURABLE_PREFIX}.{{partition(${count},1)}}.{{wildcard(1)}}.{{wildcard(2)}}.{{wildcard(3)}}`,
  };
}

/** The nats-server `mappings` block for K partitions (empty for K=1). Top level: the global account. */
export function renderMappings(count: number): string {
  const m = partitionMapping(count);
  if (m === undefined) return "";
  return [
    `# STREAM_PARTITIONS=${count}: producers' subjects -> partition streams SMS_EVENTS_0..${count - 1},`,
    "# rendered from src/bus/partitions.ts (`sms-ws provision --print-nats-config`). Nodes must run",
    `# with the same STREAM_PARTITIONS. See docs/partitioning.md before changing it.`,
    "mappings {",
    `  "${m.src}": "${m.dest}"`,
    "}",
    "",
  ].join("\n");
}
