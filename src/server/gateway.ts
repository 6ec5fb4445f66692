/**
 * The uWS side of a node: HTTP routes, the /ws socket lifecycle (auth, scope topics, pings,
 * revocation, slow consumers) and the drain. Decisions live in protocol/ and scope/; this file
 * only wires them to sockets.
 */
import type { Logger } from "pino";
import uWS from "uWebSockets.js";
import type { HttpRequest, HttpResponse, TemplatedApp, WebSocket } from "uWebSockets.js";
import type { FeedRegistry } from "../bus/feed-registry.js";
import type { Config } from "../config/config.js";
import { hashPrefix } from "../keys/key-record.js";
import type { Metrics, Role } from "../metrics/metrics.js";
import { authenticate, type KeyLookup } from "../protocol/authenticate.js";
import type { ResumeRequest } from "../protocol/client-messages.js";
import { CloseCode } from "../client/close-codes.js";
import { AuthErrors, authErrorFrame, authOkFrame, PING_FRAME } from "../protocol/server-messages.js";
import { feedsOf, scopeKey, type Feed, type Scope } from "../scope/scope.js";
import { Admission, clientAddress } from "./admission.js";
import type { Readiness } from "./readiness.js";

/** Frames above this close the socket with 1009 (SPEC section 1). */
export const MAX_CLIENT_FRAME_BYTES = 4096;
/**
 * uWS drops the TCP connection without a close frame on frames above maxPayloadLength. We let
 * uWS accept up to this size so frames up to it get a proper 1009 close from us; anything larger
 * is cut off by uWS (the client sees 1006).
 */
const UWS_MAX_PAYLOAD_BYTES = 64 * 1024;

export interface SocketData {
  readonly id: number;
  readonly ip: string;
  readonly openedAt: number;
  /** Counted by admission as waiting for authentication. */
  awaitingAuth: boolean;
  state: "authenticating" | "subscribing" | "authenticated" | "closed";
  authTimer: NodeJS.Timeout | undefined;
  scope: Scope | undefined;
  feeds: readonly Feed[] | undefined;
  keyHash: string | undefined;
  /** Set when the node closed the socket, so the close handler counts it under the right code. */
  closedBy: number | undefined;
}

export type Socket = WebSocket<SocketData>;

/** Clients choose their own close codes: only known ones become label values. */
const KNOWN_CLOSE_CODES = new Set([1000, 1001, 1005, 1006, 1009, 1011, ...Object.values(CloseCode)]);
function closeCodeLabel(code: number): string {
  return KNOWN_CLOSE_CODES.has(code) ? String(code) : "other";
}

export interface GatewayDeps {
  config: Config;
  log: Logger;
  metrics: Metrics;
  keys: KeyLookup;
  /** False until the node can authenticate (key store loaded): upgrades get 503 meanwhile. */
  accepting: () => boolean;
  feeds: FeedRegistry;
  readiness: () => Readiness;
  epoch: () => string | undefined;
  /** Resume support (stream replay); absent on the direct path. */
  resume?: (ws: Socket, request: ResumeRequest) => void;
}

export class Gateway {
  readonly app: TemplatedApp;
  readonly admission: Admission;
  readonly #sockets = new Set<Socket>();
  /** Sockets per scope, with the scope's feeds: shared by all its sockets (memory per socket). */
  readonly #scopes = new Map<string, { count: number; scope: Scope; feeds: readonly Feed[] }>();
  #nextId = 1;
  #listenSocket: uWS.us_listen_socket | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #draining = false;

  constructor(private readonly deps: GatewayDeps) {
    this.app = uWS.App();
    this.admission = new Admission(deps.config);
    this.#routes();
  }

  get port(): number {
    return this.#listenSocket === undefined ? -1 : uWS.us_socket_local_port(this.#listenSocket as never);
  }

  get socketCount(): number {
    return this.#sockets.size;
  }

  get draining(): boolean {
    return this.#draining;
  }

  listen(): Promise<number> {
    const { host, port } = this.deps.config;
    return new Promise((resolve, reject) => {
      this.app.listen(host, port, (socket) => {
        if (socket === false) {
          reject(new Error(`cannot listen on ${host}:${port}`));
          return;
        }
        this.#listenSocket = socket;
        this.#startTimers();
        resolve(this.port);
      });
    });
  }

  /** Stop accepting connections; open sockets stay. */
  stopListening(): void {
    if (this.#listenSocket !== undefined) {
      uWS.us_listen_socket_close(this.#listenSocket);
      this.#listenSocket = undefined;
    }
  }

  beginDrain(): void {
    this.#draining = true;
  }

  /**
   * Close every socket with 1001, spread evenly over windowMs so clients do not reconnect to the
   * other nodes all at once. Resolves when all are closed.
   */
  closeAllSpread(windowMs: number): Promise<void> {
    const sockets = [...this.#sockets];
    if (sockets.length === 0) return Promise.resolve();
    const tickMs = 10;
    const ticks = Math.max(1, Math.floor(windowMs / tickMs));
    const perTick = Math.ceil(sockets.length / ticks);
    return new Promise((resolve) => {
      let next = 0;
      const step = (): void => {
        const end = Math.min(sockets.length, next + perTick);
        for (; next < end; next++) {
          const ws = sockets[next] as Socket;
          this.close(ws, CloseCode.GoingAway, "server shutting down");
        }
        if (next >= sockets.length) resolve();
        else setTimeout(step, tickMs);
      };
      step();
    });
  }

  stopTimers(): void {
    clearInterval(this.#pingTimer);
    clearInterval(this.#sweepTimer);
  }

  /** Close with a code (the client gets a close frame). Safe on an already-closed socket. */
  close(ws: Socket, code: number, reason: string): void {
    const data = ws.getUserData();
    if (data.state === "closed") return;
    data.closedBy = code;
    ws.end(code, reason);
  }

  /** Send a text frame to one socket from outside a uWS handler (corked: one syscall). */
  send(ws: Socket, frame: string): number {
    if (ws.getUserData().state === "closed") return 2;
    let status = 2;
    ws.cork(() => {
      status = ws.send(frame, false, false);
    });
    return status;
  }

  /**
   * Send frames from `from` on, under one cork, while the socket's buffer stays under
   * `budgetBytes`. Returns the index of the first frame not sent (frames.length when all were).
   */
  sendMany(ws: Socket, frames: readonly string[], from = 0, budgetBytes = Infinity): number {
    if (ws.getUserData().state === "closed") return from;
    let i = from;
    ws.cork(() => {
      for (; i < frames.length && ws.getBufferedAmount() < budgetBytes; i++) ws.send(frames[i] as string, false, false);
    });
    return i;
  }

  /**
   * Close every socket authenticated with this key hash: the key was revoked or changed. A scan
   * of all sockets, which a revocation (rare) can afford; an index per key would cost memory on
   * every socket.
   */
  revoke(hash: string): void {
    for (const ws of this.#sockets) {
      const data = ws.getUserData();
      if (data.keyHash !== hash || data.state === "closed" || data.state === "authenticating") continue;
      this.deps.metrics.auth.inc({ outcome: "revoked" });
      ws.cork(() => {
        ws.send(authErrorFrame(AuthErrors.revoked), false, false);
        this.close(ws, CloseCode.Unauthorized, AuthErrors.revoked);
      });
    }
  }

  /** Close (1001) every socket fed by this topic, so that its client reconnects and resumes. */
  closeTopic(topic: string, reason: string): void {
    for (const ws of this.#sockets) {
      const feeds = ws.getUserData().feeds;
      if (feeds !== undefined && feeds.some((f) => f.topic === topic)) this.close(ws, CloseCode.GoingAway, reason);
    }
  }

  /** Subscribe an authenticated socket to its live topics (after any replay has been sent). */
  goLive(ws: Socket): void {
    const data = ws.getUserData();
    if (data.state === "closed" || data.feeds === undefined) return;
    for (const feed of data.feeds) ws.subscribe(feed.topic);
  }

  /**
   * The JSON heartbeat, without a topic of its own (a topic subscription costs memory on every
   * socket): every app socket is on its tenant's tenant-wide topic, every admin socket on the
   * admin topic, so one publish per tenant reaches each authenticated socket exactly once.
   */
  #ping(): void {
    const topics = new Set<string>();
    for (const { feeds } of this.#scopes.values()) topics.add((feeds.at(-1) as Feed).topic);
    for (const topic of topics) this.app.publish(topic, PING_FRAME, false, false);
  }

  #startTimers(): void {
    const { pingIntervalMs } = this.deps.config;
    this.#pingTimer = setInterval(() => this.#ping(), pingIntervalMs);
    this.#pingTimer.unref();
    this.#sweepTimer = setInterval(() => this.#sweep(), 250);
    this.#sweepTimer.unref();
  }

  /**
   * uWS skips sockets over maxBackpressure silently. Every 250 ms we close, with a documented
   * code, each socket whose buffer passed the configured limit, so a slow reader is told (and can
   * resume) instead of silently missing events; and sockets past MAX_LIFETIME_S, with 1001. A loop
   * over sockets, but off the event path.
   */
  #sweep(): void {
    const limit = this.deps.config.maxBackpressureBytes;
    const lifetimeMs = this.deps.config.maxLifetimeS * 1000;
    const now = Date.now();
    for (const ws of this.#sockets) {
      const data = ws.getUserData();
      if (data.state === "closed") continue;
      if (ws.getBufferedAmount() > limit) {
        this.deps.metrics.slowConsumerCloses.inc();
        this.deps.log.debug({ socket: data.id }, "slow consumer closed");
        this.close(ws, CloseCode.TooMany, "slow consumer");
      } else if (lifetimeMs > 0 && now - data.openedAt > lifetimeMs) {
        this.close(ws, CloseCode.GoingAway, "max lifetime reached");
      }
    }
    this.admission.sweep();
  }

  #routes(): void {
    const { config, metrics, log } = this.deps;
    this.app.get("/healthz", (res) => {
      res.cork(() => res.writeHeader("content-type", "application/json").end('{"status":"ok"}'));
    });
    this.app.get("/readyz", (res) => {
      const r = this.deps.readiness();
      res.cork(() => {
        res.writeStatus(r.ready ? "200 OK" : "503 Service Unavailable");
        res.writeHeader("content-type", "application/json");
        res.end(JSON.stringify(r.ready ? { status: "ready" } : { status: "not_ready", reasons: r.reasons }));
      });
    });
    this.app.ws<SocketData>("/ws", {
      maxPayloadLength: UWS_MAX_PAYLOAD_BYTES,
      idleTimeout: config.idleTimeoutS,
      sendPingsAutomatically: true,
      // The sweep closes slow sockets at MAX_BACKPRESSURE_BYTES with 4429 (and counts them).
      // uWS's own limit sits far above it, so the sweep gets there first, and uWS closes rather
      // than skips: a socket must never miss a frame and receive the next (it would resume past
      // the hole).
      maxBackpressure: Math.max(config.maxBackpressureBytes * 16, 16 * 1024 * 1024),
      closeOnBackpressureLimit: true as unknown as number,
      compression: uWS.DISABLED,
      upgrade: (res, req, context) => this.#upgrade(res, req, context),
      open: (ws) => {
        const data = ws.getUserData();
        this.#sockets.add(ws);
        this.#awaitAuth(data);
        metrics.connectionsOpened.inc();
        metrics.connections.inc({ role: "none", state: "authenticating" });
        data.authTimer = setTimeout(() => this.#authTimeout(ws), config.authTimeoutMs);
        log.debug({ socket: data.id, ip: data.ip }, "socket opened");
      },
      message: (ws, message, isBinary) => this.#message(ws, message, isBinary),
      close: (ws, code) => this.#closed(ws, code),
    });
    this.app.any("/*", (res) => {
      res.cork(() => res.writeStatus("404 Not Found").writeHeader("content-type", "application/json").end('{"error":"not found"}'));
    });
  }

  #upgrade(res: HttpResponse, req: HttpRequest, context: uWS.us_socket_context_t): void {
    // uWS: everything read from req must be read here, before any return or await.
    const origin = req.getHeader("origin");
    const key = req.getHeader("sec-websocket-key");
    const protocol = req.getHeader("sec-websocket-protocol");
    const extensions = req.getHeader("sec-websocket-extensions");
    const header = this.deps.config.trustedProxyHeader;
    const ip = clientAddress(Buffer.from(res.getRemoteAddressAsText()).toString(), header === "" ? "" : req.getHeader(header));
    const refuse = (status: string, reason: string): void => {
      this.deps.metrics.upgradesRefused.inc({ reason });
      this.deps.log.debug({ ip, origin, reason }, "upgrade refused");
      res.cork(() => res.writeStatus(status).writeHeader("content-type", "text/plain").end(reason.replaceAll("_", " ")));
    };
    if (this.#draining) return refuse("503 Service Unavailable", "draining");
    if (!this.deps.accepting()) return refuse("503 Service Unavailable", "starting");
    if (!this.#originAllowed(origin)) return refuse("403 Forbidden", "origin");
    const refusal = this.admission.refuseUpgrade(ip);
    if (refusal !== undefined) return refuse(refusal.status, refusal.reason);
    const data: SocketData = {
      id: this.#nextId++,
      ip,
      openedAt: Date.now(),
      awaitingAuth: false,
      state: "authenticating",
      authTimer: undefined,
      scope: undefined,
      feeds: undefined,
      keyHash: undefined,
      closedBy: undefined,
    };
    res.cork(() => res.upgrade(data, key, protocol, extensions, context));
  }

  #originAllowed(origin: string): boolean {
    const allowed = this.deps.config.allowedOrigins;
    if (allowed.length === 0 || allowed.includes("*")) return true;
    return origin !== "" && allowed.includes(origin);
  }

  #message(ws: Socket, message: ArrayBuffer, isBinary: boolean): void {
    const data = ws.getUserData();
    if (message.byteLength > MAX_CLIENT_FRAME_BYTES) {
      this.close(ws, CloseCode.MessageTooBig, "message too big");
      return;
    }
    // After authentication: unknown types and second auth messages are ignored (forward compat).
    if (data.state !== "authenticating") return;
    clearTimeout(data.authTimer);
    data.authTimer = undefined;
    const { metrics, log } = this.deps;
    const decision = authenticate(message, isBinary, this.deps.keys);
    this.#authSettled(data);
    if (decision.type === "reject") {
      this.admission.authFailed(data.ip);
      metrics.auth.inc({ outcome: decision.outcome });
      log.debug({ socket: data.id, ip: data.ip, outcome: decision.outcome }, "auth rejected");
      ws.send(authErrorFrame(decision.error), false, false);
      this.close(ws, decision.closeCode, decision.error);
      return;
    }
    if (decision.scope.role === "app" && !this.admission.joinTenant(decision.scope.tenantId)) {
      metrics.auth.inc({ outcome: "tenant_limit" });
      ws.send(authErrorFrame(AuthErrors.tenantLimit), false, false);
      this.close(ws, CloseCode.TooMany, AuthErrors.tenantLimit);
      return;
    }
    const shared = this.#joinScope(decision.scope);
    data.state = "subscribing";
    data.scope = shared.scope;
    data.keyHash = decision.hash;
    data.feeds = shared.feeds;
    metrics.connections.dec({ role: "none", state: "authenticating" });
    metrics.connections.inc({ role: decision.scope.role, state: "authenticated" });
    metrics.auth.inc({ outcome: "ok" });
    log.debug({ socket: data.id, keyHash: hashPrefix(decision.hash), scope: scopeKey(decision.scope) }, "auth ok");
    const resume = decision.resume;
    this.deps.feeds.acquire(data.feeds).then(
      () => this.#authenticated(ws, resume),
      (err: unknown) => {
        log.warn({ err, socket: data.id }, "subscribing failed; closing socket");
        this.close(ws, CloseCode.GoingAway, "try again");
      },
    );
  }

  /** Runs once the socket's NATS subscriptions are active: from now on nothing is missed. */
  #authenticated(ws: Socket, resume: ResumeRequest | undefined): void {
    const data = ws.getUserData();
    if (data.state === "closed") return;
    data.state = "authenticated";
    this.metricsGauges();
    this.send(ws, authOkFrame(this.deps.epoch()));
    if (resume !== undefined && this.deps.resume !== undefined) this.deps.resume(ws, resume);
    else this.goLive(ws);
  }

  #authTimeout(ws: Socket): void {
    const data = ws.getUserData();
    if (data.state !== "authenticating") return;
    this.admission.authFailed(data.ip);
    this.deps.metrics.auth.inc({ outcome: "timeout" });
    ws.cork(() => {
      ws.send(authErrorFrame(AuthErrors.timeout), false, false);
      this.close(ws, CloseCode.AuthTimeout, AuthErrors.timeout);
    });
  }

  #closed(ws: Socket, code: number): void {
    const data = ws.getUserData();
    const { metrics, log } = this.deps;
    const wasAuthenticated = data.state === "authenticated" || data.state === "subscribing";
    data.state = "closed";
    clearTimeout(data.authTimer);
    this.#sockets.delete(ws);
    metrics.connectionsClosed.inc({ code: closeCodeLabel(data.closedBy ?? code) });
    if (wasAuthenticated && data.scope !== undefined && data.feeds !== undefined) {
      if (data.scope.role === "app") this.admission.leaveTenant(data.scope.tenantId);
      metrics.connections.dec({ role: data.scope.role, state: "authenticated" });
      this.deps.feeds.release(data.feeds);
      this.#leaveScope(data.scope);
      this.metricsGauges();
    } else {
      metrics.connections.dec({ role: "none", state: "authenticating" });
      // Closed before its first message was decided (timeout, client gone).
      this.#authSettled(data);
    }
    log.debug({ socket: data.id, code: data.closedBy ?? code }, "socket closed");
  }

  #awaitAuth(data: SocketData): void {
    data.awaitingAuth = true;
    this.admission.opened(data.ip);
  }

  #authSettled(data: SocketData): void {
    if (!data.awaitingAuth) return;
    data.awaitingAuth = false;
    this.admission.settled(data.ip);
  }

  metricsGauges(): void {
    this.deps.metrics.activeScopes.set(this.#scopes.size);
    this.deps.metrics.natsSubscriptions.set(this.deps.feeds.size);
  }

  #joinScope(scope: Scope): { scope: Scope; feeds: readonly Feed[] } {
    const key = scopeKey(scope);
    let entry = this.#scopes.get(key);
    if (entry === undefined) this.#scopes.set(key, (entry = { count: 0, scope, feeds: feedsOf(scope) }));
    entry.count++;
    return entry;
  }

  #leaveScope(scope: Scope): void {
    const key = scopeKey(scope);
    const entry = this.#scopes.get(key);
    if (entry !== undefined && --entry.count <= 0) this.#scopes.delete(key);
  }

}

export type { Role };
