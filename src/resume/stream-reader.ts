/**
 * Reads stored events back from SMS_EVENTS: every event on the given live-subject filters with a
 * sequence above `afterSeq`, in sequence order, decoded exactly like live ones. Used by resume
 * (per socket) and by gap repair (per feed).
 */
import { DeliverPolicy, jetstream, type JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { decodeBusEvent, type DecodedEvent } from "../bus/event-decoder.js";
import { InvalidEventError } from "../errors.js";
import { DURABLE_PREFIX, LIVE_PREFIX, STREAM_NAME } from "../scope/subjects.js";

export type ReadResult =
  /** `through`: the highest sequence fetched, counting stored events that failed validation. */
  | { type: "events"; events: DecodedEvent[]; through: number }
  | { type: "limit"; pending: number };

const BATCH = 512;
/** A read that takes longer is abandoned (and retried by gap repair): a request on a stale
 * connection must not hold a feed forever. */
const READ_TIMEOUT_MS = 15_000;

/** `sms.t.a.*` -> `in.sms.t.a.*`: the stored subject of a live filter. */
export function storedFilter(liveFilter: string): string {
  return `${DURABLE_PREFIX}${liveFilter.slice(LIVE_PREFIX.length)}`;
}

export class StreamReader {
  readonly #js: JetStreamClient;

  constructor(nc: NatsConnection) {
    this.#js = jetstream(nc);
  }

  /** The stream's last sequence now. */
  async lastSequence(): Promise<number> {
    const jsm = await this.#js.jetstreamManager();
    return (await jsm.streams.info(STREAM_NAME)).state.last_seq;
  }

  /**
   * Events on `liveFilters` with seq > afterSeq, as stored when the read starts. Refuses (limit)
   * when more than `max` are pending, before fetching any.
   */
  async read(liveFilters: readonly string[], afterSeq: number, max: number): Promise<ReadResult> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`stream read timed out after ${READ_TIMEOUT_MS} ms`)), READ_TIMEOUT_MS);
    });
    try {
      return await Promise.race([this.#read(liveFilters, afterSeq, max), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #read(liveFilters: readonly string[], afterSeq: number, max: number): Promise<ReadResult> {
    const consumers = await Promise.all(
      liveFilters.map((f) =>
        this.#js.consumers.get(STREAM_NAME, {
          filter_subjects: storedFilter(f),
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: afterSeq + 1,
        }),
      ),
    );
    const pendings = await Promise.all(consumers.map(async (c) => (await c.info()).num_pending));
    const pending = pendings.reduce((a, b) => a + b, 0);
    if (pending > max) {
      await Promise.all(consumers.map((c) => c.delete().catch(() => false)));
      return { type: "limit", pending };
    }
    let through = afterSeq;
    const lists = await Promise.all(
      consumers.map(async (consumer, i) => {
        const out: DecodedEvent[] = [];
        let remaining = pendings[i] as number;
        while (remaining > 0) {
          const batch = await consumer.fetch({ max_messages: Math.min(BATCH, remaining), expires: 2000 });
          let got = 0;
          for await (const m of batch) {
            got++;
            remaining--;
            if (m.seq > through) through = m.seq;
            try {
              out.push(decodeBusEvent(`${LIVE_PREFIX}${m.subject.slice(DURABLE_PREFIX.length)}`, m.data, m.seq));
            } catch (err) {
              if (!(err instanceof InvalidEventError)) throw err;
            }
            if (m.info.pending === 0) remaining = 0;
            if (remaining === 0) break;
          }
          // A fetch that ends empty while events are still pending (a stale connection, a
          // leader change): the read is incomplete, and an incomplete read must not pass for a
          // complete one. The caller retries (gap repair) or answers resume_failed.
          if (got === 0) throw new Error(`stream read incomplete: ${remaining} of ${pendings[i]} events not fetched`);
        }
        await consumer.delete().catch(() => false);
        return out;
      }),
    );
    return { type: "events", events: mergeBySeq(lists), through };
  }
}

/** Merge lists each sorted by seq into one sorted list. */
export function mergeBySeq(lists: DecodedEvent[][]): DecodedEvent[] {
  if (lists.length === 1) return lists[0] as DecodedEvent[];
  return lists.flat().sort((a, b) => (a.event.seq ?? 0) - (b.event.seq ?? 0));
}
