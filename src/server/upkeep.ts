/**
 * The node's timers over its connections (sockets and SSE streams), all off the event path: the
 * heartbeat, the sweep (slow consumers, token expiry, lifetime, admission windows) and the
 * drain's spread-out close.
 */
import type { Logger } from "pino";
import type { TemplatedApp } from "uWebSockets.js";
import type { Config } from "../config/config.js";
import type { Metrics } from "../metrics/metrics.js";
import { Refusals } from "../protocol/refusal.js";
import { PING_FRAME } from "../protocol/server-messages.js";
import { pingTopic } from "../scope/filter-topics.js";
import type { Admission } from "./admission.js";
import type { ScopeTable } from "./scopes.js";
import type { SocketRegistry } from "./sockets.js";
import { closeSpread } from "./spread-close.js";

const SWEEP_MS = 250;

/** What Upkeep does for a transport uWS topics do not reach (src/server/event-streams.ts). */
export interface StreamUpkeep {
  ping(): void;
  sweep(now: number): void;
  closeAllSpread(windowMs: number): Promise<void>;
}

export class Upkeep {
  #pingTimer: NodeJS.Timeout | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly app: TemplatedApp,
    private readonly config: Config,
    private readonly sockets: SocketRegistry,
    private readonly scopes: ScopeTable,
    private readonly admission: Admission,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    /** The SSE streams: pinged, swept and drained on the same timers as the sockets. */
    private readonly streams: StreamUpkeep,
  ) {}

  start(): void {
    this.#pingTimer = setInterval(() => this.#ping(), this.config.pingIntervalMs);
    this.#pingTimer.unref();
    this.#sweepTimer = setInterval(() => this.#sweep(), SWEEP_MS);
    this.#sweepTimer.unref();
  }

  stop(): void {
    clearInterval(this.#pingTimer);
    clearInterval(this.#sweepTimer);
  }

  /**
   * Close every socket and stream with 1001, spread evenly over windowMs so clients do not
   * reconnect to the other nodes all at once (like NATS's lame-duck mode). Resolves when all are
   * closed.
   */
  async closeAllSpread(windowMs: number): Promise<void> {
    await Promise.all([
      closeSpread(this.sockets.all(), windowMs, (ws) => this.sockets.close(ws, Refusals.shuttingDown)),
      this.streams.closeAllSpread(windowMs),
    ]);
  }

  /**
   * One publish per broadcast topic reaches each authenticated socket exactly once; filtered
   * sockets are on the broadcast topic's ping topic instead (src/scope/filter-topics.ts).
   */
  #ping(): void {
    for (const topic of this.scopes.broadcastTopics()) {
      this.app.publish(topic, PING_FRAME, false, false);
      const filtered = pingTopic(topic);
      if (this.app.numSubscribers(filtered) > 0) this.app.publish(filtered, PING_FRAME, false, false);
    }
    this.streams.ping();
  }

  /**
   * uWS skips sockets over maxBackpressure silently. Every 250 ms we close, with a documented
   * code, each socket whose buffer passed the configured limit, so a slow reader is told (and can
   * resume) instead of silently missing events; sockets whose token expired, with 4419; and
   * sockets past MAX_LIFETIME_S, with 1001. A loop over sockets, but off the event path.
   */
  #sweep(): void {
    const limit = this.config.maxBackpressureBytes;
    const lifetimeMs = this.config.maxLifetimeS * 1000;
    const now = Date.now();
    for (const ws of this.sockets) {
      const data = ws.getUserData();
      if (data.state === "closed") continue;
      const credential = data.credential;
      if (credential?.kind === "token" && now >= credential.expMs) {
        // Within one sweep (250 ms) of exp, so within 1 s; refresh moves expMs forward.
        this.metrics.auth.inc({ outcome: "token_expired" });
        this.sockets.refuse(ws, Refusals.tokenExpired);
      } else if (ws.getBufferedAmount() > limit) {
        this.metrics.slowConsumerCloses.inc();
        this.log.debug({ socket: data.id }, "slow consumer closed");
        this.sockets.close(ws, Refusals.slowConsumer);
      } else if (lifetimeMs > 0 && now - data.openedAt > lifetimeMs) {
        this.sockets.close(ws, Refusals.maxLifetime);
      }
    }
    this.streams.sweep(now);
    this.admission.sweep();
  }
}
