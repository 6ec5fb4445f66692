/**
 * What the fault and failover tests share: a producer that publishes at a steady rate on the
 * durable path, retrying unacknowledged publishes with the same eventId (the stream stores a
 * retry once), and the tally of what each tracked client received.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { SmsEvent } from "../../src/client/index.js";
import { publishEvent } from "../../src/publisher/index.js";

/** Publish one status event until JetStream acknowledges it; returns the attempts it took. */
export async function publishAcked(nc: NatsConnection, id: string, tenantId: string, maxAttempts = 200): Promise<number> {
  for (let attempts = 1; ; attempts++) {
    try {
      await publishEvent(nc, { type: "sms_status", eventId: id, messageId: id, tenantId, appId: "app", status: "sent" }, { timeoutMs: 2000 });
      return attempts;
    } catch {
      if (attempts >= maxAttempts) throw new Error(`publish of ${id} never acknowledged`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export interface SteadyProducer {
  /** Event ids per scope, in publish order (which is stream order: one connection). */
  readonly published: string[][];
  readonly count: number;
  readonly retries: number;
  /** Stop publishing; resolves once every publish is acknowledged. */
  stop(): Promise<void>;
}

/** `rate` events/s, round-robin over `scopes` tenants named by `tenantOf`, ids `${prefix}-n`. */
export function startSteadyProducer(
  nc: NatsConnection,
  options: { prefix: string; scopes: number; rate: number; tenantOf: (scope: number) => string },
): SteadyProducer {
  const published: string[][] = Array.from({ length: options.scopes }, () => []);
  let stop = false;
  let count = 0;
  let retries = 0;
  const inflight = new Set<Promise<void>>();
  const done = (async () => {
    const t0 = Date.now();
    while (!stop) {
      const scope = count % options.scopes;
      const id = `${options.prefix}-${count++}`;
      published[scope]?.push(id);
      const p: Promise<void> = publishAcked(nc, id, options.tenantOf(scope)).then((attempts) => {
        retries += attempts - 1;
        inflight.delete(p);
      });
      inflight.add(p);
      // Bounded: during a leader change acks stall; do not pile up unbounded requests.
      while (inflight.size >= 1000) await Promise.race(inflight);
      const ahead = t0 + count * (1000 / options.rate) - Date.now();
      if (ahead > 0) await new Promise((r) => setTimeout(r, ahead));
    }
    await Promise.all(inflight);
  })();
  return {
    published,
    get count() {
      return count;
    },
    get retries() {
      return retries;
    },
    async stop() {
      stop = true;
      await done;
    },
  };
}

export interface TrackedClient {
  scope: number;
  events: SmsEvent[];
}

/** Distinct deliveries, duplicates and missing events of one publishing round (`prefix`). */
export function tally(tracked: readonly TrackedClient[], prefix: string, published: string[][]) {
  let lost = 0;
  let duplicated = 0;
  let delivered = 0;
  for (const t of tracked) {
    const ids = t.events.filter((e) => e.messageId.startsWith(`${prefix}-`)).map((e) => e.messageId);
    const got = new Set(ids);
    delivered += got.size;
    duplicated += ids.length - got.size;
    lost += (published[t.scope] as string[]).filter((id) => !got.has(id)).length;
  }
  return { lost, duplicated, delivered };
}

/** Events that came out of stream order, over every tracked client. */
export function outOfOrder(tracked: readonly TrackedClient[]): number {
  let n = 0;
  for (const t of tracked) {
    for (let i = 1; i < t.events.length; i++) if ((t.events[i]?.seq as number) <= (t.events[i - 1]?.seq as number)) n++;
  }
  return n;
}
