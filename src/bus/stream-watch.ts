/**
 * The node's view of SMS_EVENTS: checked (or, when the node provisions, created) at start, then
 * every 30 s and after every NATS reconnect, so the epoch in auth_ok follows a stream that an
 * operator deleted and re-created.
 *
 * The stream gates readiness only until it has been checked once: a later failed check (a
 * JetStream leader election during a NATS failover) must not take every node out of the load
 * balancer at once; it is retried every second until it succeeds.
 */
import type { StreamInfo } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { STREAM_NAME } from "./contract.js";
import { epochOf } from "./stream.js";

const RETRY_MS = 1000;
const RECHECK_MS = 30_000;

export class StreamWatch {
  #epoch: string | undefined;
  #checked = false;
  #stopped = false;
  #retry: NodeJS.Timeout | undefined;
  #recheck: NodeJS.Timeout | undefined;

  /**
   * `check` reads (or creates) the stream's info and throws when the stream is unusable;
   * `onChecked` runs after each successful check.
   */
  constructor(
    private readonly check: () => Promise<StreamInfo>,
    private readonly onChecked: () => void,
    private readonly log: Logger,
  ) {}

  /** The stream's incarnation, once checked. */
  get epoch(): string | undefined {
    return this.#epoch;
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
      this.#epoch = epochOf(await this.check());
      this.#checked = true;
      this.onChecked();
    } catch (err) {
      this.log.warn({ err: String(err) }, `cannot check stream ${STREAM_NAME}; retrying in 1 s`);
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
