/**
 * The node's uWS app and its routes: /healthz, /readyz, /ws, /v1/events (history),
 * /v1/events/stream (SSE), /console when CONSOLE_ENABLED (console-route.ts, registered by the
 * node), and 404 for everything else. It
 * listens first, before NATS is reached (health and readiness answer; upgrades get 503
 * "starting"); the node then hands it the client handlers with accept() once it can serve.
 */
import type { Logger } from "pino";
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, us_socket_context_t } from "uWebSockets.js";
import type { Config } from "../config/config.js";
import type { Metrics } from "../metrics/metrics.js";
import { loadUws, type UwsModule } from "../runtime/uws-runtime.js";
import { AcceptGuard, processDescriptors, type DescriptorProbe } from "./accept-guard.js";
import { corsFor, PREFLIGHT_HEADERS } from "./cors.js";
import type { NodeHealth } from "./readiness.js";
import type { Socket, SocketData } from "./sockets.js";

/** Frames above this close the socket with 1009 (README.md, "Close codes"); sized in tokens/limits.ts. */
export { MAX_CLIENT_FRAME_BYTES } from "../tokens/limits.js";
/**
 * uWS drops the TCP connection without a close frame on frames above maxPayloadLength. We let
 * uWS accept up to this size so frames up to it get a proper 1009 close from us; anything larger
 * is cut off by uWS (the client sees 1006).
 */
const UWS_MAX_PAYLOAD_BYTES = 64 * 1024;

/** What /ws does once the node serves clients (src/server/socket-lifecycle.ts). */
export interface ClientHandlers {
  upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void;
  open(ws: Socket): void;
  message(ws: Socket, message: ArrayBuffer, isBinary: boolean): void;
  close(ws: Socket, code: number): void;
}

/** What /v1/events and /v1/events/stream do once the node serves clients (history-route.ts, stream-route.ts). */
export interface EventsHandlers {
  history(res: HttpResponse, req: HttpRequest): void;
  stream(res: HttpResponse, req: HttpRequest): void;
}

export type UpgradeRefusalReason =
  | "origin"
  | "starting"
  | "draining"
  | "auth_failures"
  | "unauthenticated_per_ip"
  | "unauthenticated_total";

/** Answer an upgrade request with a plain HTTP refusal, counted by reason. */
export function refuseUpgrade(res: HttpResponse, status: string, reason: UpgradeRefusalReason, metrics: Metrics): void {
  metrics.upgradesRefused.inc({ reason });
  res.cork(() => res.writeStatus(status).writeHeader("content-type", "text/plain").end(reason.replaceAll("_", " ")));
}

export class HttpServer {
  readonly app: TemplatedApp;
  /** Until accept(): every upgrade is refused, so no socket opens. */
  #clients: ClientHandlers = {
    upgrade: (res) => refuseUpgrade(res, "503 Service Unavailable", this.health.draining ? "draining" : "starting", this.metrics),
    open: (ws) => ws.end(1011, "not serving"),
    message: () => {},
    close: () => {},
  };
  /** Loaded here, not imported: the CLI's other commands must work where it cannot load. */
  readonly #uws: UwsModule = loadUws();
  #listenSocket: us_listen_socket | undefined;
  /** The port bound by listen(), kept while the accept guard has the listener paused. */
  #boundPort = -1;
  #stopped = false;
  #guardTimer: NodeJS.Timeout | undefined;
  /** Until accept(): 503 "starting". */
  #events: EventsHandlers = {
    history: (res) => notServing(res, this.health.draining ? "draining" : "starting"),
    stream: (res) => notServing(res, this.health.draining ? "draining" : "starting"),
  };

  constructor(
    private readonly config: Config,
    private readonly health: NodeHealth,
    private readonly metrics: Metrics,
    private readonly log?: Logger,
    /** The descriptor budget the accept guard watches (accept-guard.ts); undefined: no guard. */
    private readonly descriptors: DescriptorProbe | undefined = processDescriptors(),
  ) {
    this.app = this.#uws.App();
    this.#routes();
  }

  /** The port the node serves on (also while the accept guard has the listener paused). */
  get port(): number {
    return this.#boundPort;
  }

  async listen(): Promise<number> {
    const { host, port } = this.config;
    if (!(await this.#bind(port))) throw new Error(`cannot listen on ${host}:${port}`);
    this.#guard();
    return this.#boundPort;
  }

  #bind(port: number): Promise<boolean> {
    return new Promise((resolve) => {
      this.app.listen(this.config.host, port, (socket) => {
        if (socket === false) return resolve(false);
        this.#listenSocket = socket;
        this.#boundPort = this.#uws.us_socket_local_port(socket as never);
        resolve(true);
      });
    });
  }

  #closeListener(): void {
    if (this.#listenSocket !== undefined) {
      this.#uws.us_listen_socket_close(this.#listenSocket);
      this.#listenSocket = undefined;
    }
  }

  /** Back off accepting near RLIMIT_NOFILE instead of spinning on EMFILE (accept-guard.ts). */
  #guard(): void {
    if (this.descriptors === undefined) return;
    const { health, metrics, log } = this;
    const guard = new AcceptGuard(
      this.descriptors,
      {
        pause: () => this.#closeListener(),
        resume: async () => this.#stopped || (await this.#bind(this.#boundPort)),
      },
      {
        sampled: (open) => metrics.openFds.set(open),
        paused: (open, limit) => {
          health.acceptPaused = true;
          metrics.acceptPaused.set(1);
          metrics.acceptPauses.inc();
          log?.warn({ openFds: open, fdLimit: limit }, "descriptors near the limit: not accepting connections");
        },
        resumed: (open, pausedMs) => {
          health.acceptPaused = false;
          metrics.acceptPaused.set(0);
          log?.info({ openFds: open, pausedMs }, "accepting connections again");
        },
        resumeFailed: (open) => log?.warn({ openFds: open, port: this.#boundPort }, "cannot listen again yet; retrying"),
      },
    );
    metrics.fdLimit.set(this.descriptors.limit);
    this.#guardTimer = setInterval(() => {
      guard.check().catch((err: unknown) => log?.warn({ err }, "descriptor check failed"));
    }, this.descriptors.intervalMs);
    this.#guardTimer.unref();
  }

  /** Phase two of the start: clients are served from now on. */
  accept(clients: ClientHandlers, events?: EventsHandlers): void {
    this.#clients = clients;
    if (events !== undefined) this.#events = events;
  }

  /** Stop accepting connections; open sockets stay. */
  stopListening(): void {
    this.#stopped = true;
    clearInterval(this.#guardTimer);
    this.#closeListener();
  }

  #routes(): void {
    this.app.get("/healthz", (res) => {
      res.cork(() => res.writeHeader("content-type", "application/json").end('{"status":"ok"}'));
    });
    this.app.get("/readyz", (res) => {
      const r = this.health.readiness();
      res.cork(() => {
        res.writeStatus(r.ready ? "200 OK" : "503 Service Unavailable");
        res.writeHeader("content-type", "application/json");
        res.end(JSON.stringify(r.ready ? { status: "ready" } : { status: "not_ready", reasons: r.reasons }));
      });
    });
    this.app.ws<SocketData>("/ws", {
      maxPayloadLength: UWS_MAX_PAYLOAD_BYTES,
      idleTimeout: this.config.idleTimeoutS,
      sendPingsAutomatically: true,
      // The sweep closes slow sockets at MAX_BACKPRESSURE_BYTES with 4429 (and counts them).
      // uWS's own limit sits far above it, so the sweep gets there first, and uWS closes rather
      // than skips: a socket must never miss a frame and receive the next (it would resume past
      // the hole).
      maxBackpressure: Math.max(this.config.maxBackpressureBytes * 16, 16 * 1024 * 1024),
      closeOnBackpressureLimit: true,
      compression: this.#uws.DISABLED,
      upgrade: (res, req, context) => this.#clients.upgrade(res, req, context),
      open: (ws) => this.#clients.open(ws),
      message: (ws, message, isBinary) => this.#clients.message(ws, message, isBinary),
      close: (ws, code) => this.#clients.close(ws, code),
    });
    this.app.get("/v1/events", (res, req) => this.#events.history(res, req));
    this.app.get("/v1/events/stream", (res, req) => this.#events.stream(res, req));
    this.app.options("/v1/events", (res, req) => this.#preflight(res, req));
    this.app.options("/v1/events/stream", (res, req) => this.#preflight(res, req));
    this.app.any("/*", (res) => {
      res.cork(() => res.writeStatus("404 Not Found").writeHeader("content-type", "application/json").end('{"error":"not found"}'));
    });
  }

  /** CORS preflight of the events API: 204 with what a page may send, or 403 for another origin. */
  #preflight(res: HttpResponse, req: HttpRequest): void {
    const cors = corsFor(req.getHeader("origin"), this.config.allowedOrigins);
    res.cork(() => {
      if (!cors.allowed) {
        res.writeStatus("403 Forbidden").writeHeader("content-type", "application/json").end('{"error":"origin not allowed","parameter":"Origin"}');
        return;
      }
      res.writeStatus("204 No Content");
      for (const [k, v] of [...cors.headers, ...PREFLIGHT_HEADERS]) res.writeHeader(k, v);
      res.endWithoutBody();
    });
  }
}

function notServing(res: HttpResponse, reason: "starting" | "draining"): void {
  res.cork(() => res.writeStatus("503 Service Unavailable").writeHeader("content-type", "application/json").writeHeader("retry-after", "1").end(JSON.stringify({ error: reason })));
}
