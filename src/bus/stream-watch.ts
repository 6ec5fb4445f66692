/**
 * The node's view of SMS_EVENTS (or, with STREAM_PARTITIONS=K > 1, of SMS_EVENTS_0..K-1): checked
 * (or, when the node provisions, created) at start, then every 30 s and after every NATS
 * reconnect, so the epochs in auth_ok follow a stream that an operator deleted and re-created.
 *
 * The stream gates readiness only until it has been checked once: a later failed check (a
 * JetStream leader election during a NATS failover) must not take every node out of the load
 * balancer at once; it is retried every second until it succeeds.
 */
import type { StreamInfo } from "@nats-io/jetstream";
import type { Logger } from "pino";
import type { Partitions } from "./partitions.js";
import { epochOf, SINGLE } from "./stream.js";

const RETRY_MS = 1000;
const RECHECK_MS = 30_000;

/** What the server side needs of the streams' incarnations (auth_ok, SSE ids). */
export interface StreamEpochs {
  /** The single stream's epoch (STREAM_PARTITIONS=1); undefined when partitioned or unchecked. */
  readonly epoch: string | undefined;
  /** The epoch of the partition a tenant's events are stored in. */
  epochOfTenant(tenantId: string): string | undefined;
  /** Every partition's epoch, by partition index (admin sockets), once checked. */
  readonly epochs: readonly string[] | undefined;
  readonly partitioned: boolean;
}

export class StreamWatch implements StreamEpochs {
  #epochs: string[] | undefined;
  #checked = false;
  #stopped = false;
  #retry: NodeJS.Timeout | undefined;
  #recheck: NodeJS.Timeout | undefined;

  /**
   * `check` reads (or creates) the streams' info, one per partition in partition order, and
   * throws when one is unusable; `onChecked` runs after each successful check.
   */
  constructor(
    private readonly check: () => Promise<StreamInfo[]>,
    private readonly onChecked: () => void,
    private readonly log: Logger,
    private readonly partitions?: Partitions,
  ) {}

  /** The stream's incarnation, once checked (the single stream only). */
  get epoch(): string | undefined {
    return this.partitioned ? undefined : this.#epochs?.[0];
  }

  get epochs(): readonly string[] | undefined {
    return this.#epochs;
  }

  get partitioned(): boolean {
    return this.partitions?.partitioned ?? false;
  }

  epochOfTenant(tenantId: string): string | undefined {
    if (this.#epochs === undefined) return undefined;
    return this.partitions === undefined ? this.#epochs[0] : this.#epochs[this.partitions.ofTenant(tenantId).index];
  }

  /** The stream has been checked at least once. */
  get checked(): boolean {
    return this.#checked;
  }

  /** First check (failures are retried in the background), then a periodic re-check. */
  async start(): Promise<void> {
    await this.refresh();
    this.#recheck = setInterval(() => void this.refresh(), RECHECK_MS);
    this.#recheck.unref();
  }

  async refresh(): Promise<void> {
    if (this.#stopped) return;
    clearTimeout(this.#retry);
    try {
      const infos = await this.check();
      const all = this.partitions?.all ?? [SINGLE];
      this.#epochs = infos.map((info, i) => epochOf(info, all[i] ?? SINGLE));
      this.#checked = true;
      this.onChecked();
    } catch (err) {
      const names = (this.partitions?.all ?? [SINGLE]).map((p) => p.stream);
      this.log.warn({ err: String(err) }, `cannot check stream ${names.length === 1 ? names[0] : `${names[0]}..${names.at(-1)}`}; retrying in 1 s`);
      this.#retry = setTimeout(() => void this.refresh(), RETRY_MS);
      this.#retry.unref();
    }
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retry);
    clearInterval(this.#recheck);
  }
}
