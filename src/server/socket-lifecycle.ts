/**
 * A client socket from upgrade to close: admission at the upgrade, the auth message (decided in
 * src/protocol/authenticate.ts), the scope's feeds subscribed before auth_ok (so nothing published
 * after auth_ok is missed), then resume or straight to the live topics; and revocation.
 * Decisions live in protocol/, scope/ and admission.ts; this file wires them to sockets.
 */
import type { Logger } from "pino";
import type { HttpRequest, HttpResponse, us_socket_context_t } from "uWebSockets.js";
import type { FeedRegistry } from "../bus/feed-registry.js";
import type { StreamEpochs } from "../bus/stream-watch.js";
import { CloseCode } from "../client/close-codes.js";
import type { Config } from "../config/config.js";
import { hashPrefix } from "../keys/key-record.js";
import type { Metrics } from "../metrics/metrics.js";
import { authenticate, type Credentials } from "../protocol/authenticate.js";
import type { ResumeRequest } from "../protocol/client-messages.js";
import { credentialLogFields, credentialOwner, type Credential } from "../protocol/credential.js";
import { Refusals } from "../protocol/refusal.js";
import { authOkFrame } from "../protocol/server-messages.js";
import type { ReplaySocket } from "../resume/replay-socket.js";
import { feedsOf, scopeKey } from "../scope/scope.js";
import { intersectFilters, isNarrowing, parseFilter, NO_FILTER } from "../scope/filter.js";
import { SocketFilter } from "../scope/socket-filter.js";
import { ClientProtocolError } from "../errors.js";
import type { AuthDecision } from "../protocol/authenticate.js";
import { addressKey } from "../net/ip.js";
import type { Refusal } from "../protocol/refusal.js";
import { hintOutcome, parseTenantHint, poolRefusal } from "../protocol/routing.js";
import type { Admission, UpgradeRefusal } from "./admission.js";
import type { AuditLog } from "./audit.js";
import { clientAddress, headerLines } from "./client-address.js";
import { MAX_CLIENT_FRAME_BYTES, refuseUpgrade, type ClientHandlers, type UpgradeRefusalReason } from "./http-server.js";
import type { NodeHealth } from "./readiness.js";
import type { ScopeTable } from "./scopes.js";
import { SessionMessages } from "./session-messages.js";
import type { Socket, SocketData, SocketRegistry } from "./sockets.js";

/** Replays a stored range to a socket before it goes live (absent on the direct path). */
export interface Resumer {
  resume(socket: ReplaySocket, request: ResumeRequest): void;
}

export interface LifecycleDeps {
  config: Config;
  log: Logger;
  audit: AuditLog;
  metrics: Metrics;
  health: NodeHealth;
  admission: Admission;
  credentials: Credentials;
  sockets: SocketRegistry;
  scopes: ScopeTable;
  feeds: FeedRegistry;
  /** The streams' incarnations for auth_ok (none on the direct path or before the first check). */
  stream: StreamEpochs;
  resumer: Resumer | undefined;
  /** The fleet-wide per-tenant quota (src/fleet/quota.ts); absent: no fleet quota. */
  quota?: TenantQuota;
}

/** Decides whether a tenant may add a socket on this node, which holds `current` of them now. */
export interface TenantQuota {
  admit(tenantId: string, current: number): boolean;
}

/** Clients choose their own close codes: only known ones become label values. */
const KNOWN_CLOSE_CODES = new Set<number>([1000, 1005, 1006, 1011, ...Object.values(CloseCode)]);
function closeCodeLabel(code: number): string {
  return KNOWN_CLOSE_CODES.has(code) ? String(code) : "other";
}

export class SocketLifecycle implements ClientHandlers {
  #nextId = 1;
  readonly #session: SessionMessages;

  constructor(private readonly deps: LifecycleDeps) {
    const { credentials, sockets, metrics, audit, log } = deps;
    const { config } = deps;
    this.#session = new SessionMessages({
      credentials,
      sockets,
      metrics,
      audit,
      log,
      budget: { ratePerS: config.frameRatePerS, burst: config.frameBurst, refreshPerMin: config.refreshRatePerMin, refreshBurst: config.refreshBurst },
      filterLimits: { maxMessageIds: config.watchMaxMessageIds, maxTopics: config.filterMaxTopics },
      watched: () => this.#gauges(),
    });
  }

  upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void {
    const { config, health, admission } = this.deps;
    // uWS: everything read from req must be read here, before any return or await.
    const origin = req.getHeader("origin");
    const key = req.getHeader("sec-websocket-key");
    const protocol = req.getHeader("sec-websocket-protocol");
    const extensions = req.getHeader("sec-websocket-extensions");
    // uWS routes /ws by path, query string or not: `?tenant=` is for the load balancer.
    const tenantHint = parseTenantHint(req.getQuery("tenant"));
    const forwarded = config.trustedProxyHeader === "" ? [] : headerLines(req, config.trustedProxyHeader);
    const ip = clientAddress(Buffer.from(res.getRemoteAddressAsText()).toString(), forwarded, config.trustedProxies);
    const ipKey = addressKey(ip);
    const refuse = (status: UpgradeRefusal["status"] | "503 Service Unavailable" | "403 Forbidden", reason: UpgradeRefusalReason): void => {
      this.deps.audit.write({ ip, origin, reason }, "upgrade refused");
      refuseUpgrade(res, status, reason, this.deps.metrics);
    };
    if (health.draining) return refuse("503 Service Unavailable", "draining");
    if (!this.#originAllowed(origin)) return refuse("403 Forbidden", "origin");
    const refusal = admission.refuseUpgrade(ipKey);
    if (refusal !== undefined) return refuse(refusal.status, refusal.reason);
    // Every field declared here, none added later: uWS.js copies them onto the socket object at
    // the upgrade (getUserData() is the socket itself); docs/bench.md, "Idle memory per socket".
    const data: SocketData = {
      id: this.#nextId++,
      ip,
      ipKey,
      openedAt: Date.now(),
      awaitingAuth: false,
      state: "authenticating",
      authTimer: undefined,
      scope: undefined,
      feeds: undefined,
      credential: undefined,
      closedBy: undefined,
      filter: undefined,
      tenantHint,
      liveAt: undefined,
    };
    res.cork(() => res.upgrade(data, key, protocol, extensions, context));
  }

  open(ws: Socket): void {
    const { metrics, log, config } = this.deps;
    const data = ws.getUserData();
    this.deps.sockets.add(ws);
    data.awaitingAuth = true;
    this.deps.admission.opened(data.ipKey);
    metrics.connectionsOpened.inc();
    metrics.connections.inc({ role: "none", state: "authenticating" });
    data.authTimer = setTimeout(() => this.#authTimeout(ws), config.authTimeoutMs);
    log.debug({ socket: data.id, ip: data.ip }, "socket opened");
  }

  message(ws: Socket, message: ArrayBuffer, isBinary: boolean): void {
    const data = ws.getUserData();
    if (message.byteLength > MAX_CLIENT_FRAME_BYTES) {
      this.deps.sockets.close(ws, Refusals.messageTooBig);
      return;
    }
    if (data.state === "authenticating") this.#authenticate(ws, message, isBinary);
    // After authentication: refresh is acted on; unknown types and a second auth message are
    // ignored (forward compatibility). Frames still arriving after the node closed the socket
    // (the rest of a flood's TCP read) are dropped unread.
    else if ((data.state === "authenticated" || data.state === "subscribing") && data.closedBy === undefined) this.#session.handle(ws, message, isBinary);
  }

  close(ws: Socket, code: number): void {
    const data = ws.getUserData();
    const { metrics, log } = this.deps;
    const wasAuthenticated = data.state === "authenticated" || data.state === "subscribing";
    data.state = "closed";
    clearTimeout(data.authTimer);
    this.deps.sockets.delete(ws);
    metrics.connectionsClosed.inc({ code: closeCodeLabel(data.closedBy ?? code) });
    if (wasAuthenticated && data.scope !== undefined && data.feeds !== undefined) {
      if (data.scope.role === "app") this.deps.admission.leaveTenant(data.scope.tenantId);
      metrics.connections.dec({ role: data.scope.role, state: "authenticated" });
      this.deps.sockets.releaseFilter(ws);
      this.deps.feeds.release(data.feeds);
      this.deps.scopes.leave(data.scope);
      this.#gauges();
    } else {
      metrics.connections.dec({ role: "none", state: "authenticating" });
      // Closed before its first message was decided (timeout, client gone).
      this.#authSettled(data);
    }
    log.debug({ socket: data.id, code: data.closedBy ?? code, ...(data.credential === undefined ? {} : credentialLogFields(data.credential)) }, "socket closed");
  }

  /** The key was revoked or its scope changed: close every socket using it, on this node. */
  revokeKey(hash: string): void {
    this.#revoke((c) => c.kind === "key" && c.hash === hash, Refusals.revoked, "revoked", { keyHash: hashPrefix(hash) });
  }

  /** A signer was deleted (or its scope changed): close every socket of its tokens. */
  revokeSigner(kid: string): void {
    this.#revoke((c) => c.kind === "token" && c.kid === kid, Refusals.tokenRevoked, "token_revoked", { kid });
  }

  /** One token was revoked by its id. */
  revokeToken(jti: string): void {
    this.#revoke((c) => c.kind === "token" && c.jti === jti, Refusals.tokenRevoked, "token_revoked", { jti });
  }

  #revoke(matches: (c: Credential) => boolean, refusal: Refusal, outcome: "revoked" | "token_revoked", what: Record<string, string>): void {
    const n = this.deps.sockets.refuseWhere((d) => d.credential !== undefined && matches(d.credential), refusal);
    if (n === 0) return;
    this.deps.metrics.auth.inc({ outcome }, n);
    this.deps.audit.write({ ...what, sockets: n }, "credential revoked: sockets closed");
  }

  #authenticate(ws: Socket, message: ArrayBuffer, isBinary: boolean): void {
    const { metrics, log, admission, sockets, audit } = this.deps;
    const data = ws.getUserData();
    clearTimeout(data.authTimer);
    data.authTimer = undefined;
    const decision = authenticate(message, isBinary, this.deps.credentials);
    if (decision.type === "reject") {
      metrics.auth.inc({ outcome: decision.outcome });
      audit.write({ socket: data.id, ip: data.ip, outcome: decision.outcome, ...(decision.detail === undefined ? {} : { detail: decision.detail }) }, "auth rejected");
      this.#rejectLater(ws, decision.refusal, admission.authFailed(data.ipKey));
      return;
    }
    this.#authSettled(data);
    const wrongPool = poolRefusal(this.deps.config.allowedRoles, decision.scope.role);
    if (wrongPool !== undefined) {
      metrics.auth.inc({ outcome: "wrong_pool" });
      audit.write({ socket: data.id, ip: data.ip, outcome: "wrong_pool", role: decision.scope.role, ...credentialLogFields(decision.credential) }, "auth rejected");
      sockets.refuse(ws, wrongPool);
      return;
    }
    const filter = this.#socketFilter(decision);
    if (filter instanceof ClientProtocolError) {
      metrics.auth.inc({ outcome: "bad_request" });
      audit.write({ socket: data.id, ip: data.ip, outcome: "bad_request", detail: filter.message }, "auth rejected");
      sockets.refuse(ws, { code: filter.closeCode, reason: filter.message });
      return;
    }
    data.filter = filter;
    if (decision.scope.role === "app" && !admission.joinTenant(decision.scope.tenantId)) {
      metrics.auth.inc({ outcome: "tenant_limit" });
      audit.write({ socket: data.id, ip: data.ip, outcome: "tenant_limit", tenantId: decision.scope.tenantId }, "auth rejected");
      sockets.refuse(ws, Refusals.tenantLimit);
      return;
    }
    if (decision.scope.role === "app" && !this.#fleetAdmits(decision.scope.tenantId)) {
      metrics.auth.inc({ outcome: "tenant_quota" });
      audit.write({ socket: data.id, ip: data.ip, outcome: "tenant_quota", tenantId: decision.scope.tenantId }, "auth rejected");
      sockets.refuse(ws, Refusals.tenantLimit);
      return;
    }
    const shared = this.deps.scopes.join(decision.scope);
    data.state = "subscribing";
    data.scope = shared.scope;
    data.credential = decision.credential;
    data.feeds = shared.feeds;
    metrics.connections.dec({ role: "none", state: "authenticating" });
    metrics.connections.inc({ role: decision.scope.role, state: "authenticated" });
    metrics.auth.inc({ outcome: decision.outcome });
    const hint = hintOutcome(data.tenantHint, decision.scope);
    audit.write({ socket: data.id, ip: data.ip, outcome: decision.outcome, ...credentialLogFields(decision.credential), scope: scopeKey(decision.scope), ...(hint === "none" ? {} : { hint }) }, "auth ok");
    const resume = decision.resume;
    this.deps.feeds.acquire(data.feeds).then(
      () => this.#authenticated(ws, resume),
      (err: unknown) => {
        log.warn({ err, socket: data.id }, "subscribing failed; closing socket");
        sockets.close(ws, Refusals.retry);
      },
    );
  }

  /**
   * A failed authentication is answered after the address's delay (0 below its failure limit):
   * a brute-forcer from one address gets at most MAX_UNAUTHENTICATED_PER_IP answers per delay,
   * while a valid key from the same address (a NAT, a proxy) is answered at once. The socket stays
   * counted as waiting for auth until it closes.
   */
  #rejectLater(ws: Socket, refusal: Refusal, delayMs: number): void {
    const data = ws.getUserData();
    if (delayMs <= 0) {
      this.deps.sockets.refuse(ws, refusal);
      return;
    }
    this.deps.metrics.authDelayed.inc();
    data.state = "rejecting";
    data.authTimer = setTimeout(() => {
      data.authTimer = undefined;
      if (data.state === "rejecting") this.deps.sockets.refuse(ws, refusal);
    }, delayMs);
  }

  /** Runs once the socket's NATS subscriptions are active: from now on nothing is missed. */
  #authenticated(ws: Socket, resume: ResumeRequest | undefined): void {
    const data = ws.getUserData();
    if (data.state === "closed") return;
    data.state = "authenticated";
    this.#gauges();
    const { sockets, resumer } = this.deps;
    const credential = data.credential;
    sockets.send(ws, this.#authOk(data.scope, credential));
    if (resume === undefined || resumer === undefined) {
      sockets.goLive(ws);
      return;
    }
    const tenantId = data.scope?.role === "app" ? data.scope.tenantId : undefined;
    const port = sockets.replaySocket(ws, { key: credential === undefined ? "" : credentialOwner(credential), tenantId });
    // Going live after a replay subscribes a filtered socket's derived topics: keep the gauge exact.
    const goLive = data.filter === undefined ? port.goLive : () => (port.goLive(), this.#gauges());
    resumer.resume({ ...port, goLive }, resume);
  }

  /**
   * auth_ok: the epoch of the stream the socket's events come from (its tenant's partition with
   * STREAM_PARTITIONS > 1); an admin socket over several partitions gets `epochs`, one each.
   */
  #authOk(scope: SocketData["scope"], credential: Credential | undefined): string {
    const exp = credential?.kind === "token" ? Math.floor(credential.expMs / 1000) : undefined;
    const { stream } = this.deps;
    if (!stream.partitioned) return authOkFrame(stream.epoch, exp);
    if (scope?.role === "app") return authOkFrame(stream.epochOfTenant(scope.tenantId), exp);
    return authOkFrame(undefined, exp, stream.epochs);
  }

  /**
   * The socket's filter: the auth message's request under the token's ceiling (README.md, "Filters and watches").
   * Undefined when it narrows nothing (the socket then joins its plain feed topics); a
   * ClientProtocolError (4400) for a malformed ceiling or a filter over the limits.
   */
  #socketFilter(decision: Extract<AuthDecision, { type: "accept" }>): SocketFilter | undefined | ClientProtocolError {
    const { config } = this.deps;
    let ceiling = NO_FILTER;
    try {
      ceiling = parseFilter(decision.filter);
    } catch (err) {
      if (err instanceof ClientProtocolError) return new ClientProtocolError(err.closeCode, `token filter claim: ${err.message}`);
      throw err;
    }
    const filter = intersectFilters(decision.requestedFilter ?? NO_FILTER, ceiling);
    if (!isNarrowing(filter)) return undefined;
    try {
      return new SocketFilter(filter, ceiling, feedsOf(decision.scope), { maxMessageIds: config.watchMaxMessageIds, maxTopics: config.filterMaxTopics });
    } catch (err) {
      if (err instanceof ClientProtocolError) return err;
      throw err;
    }
  }

  /** The client has waited AUTH_TIMEOUT_MS already: the timeout counts as a failure, answered at once. */
  #authTimeout(ws: Socket): void {
    const data = ws.getUserData();
    if (data.state !== "authenticating") return;
    this.deps.admission.authFailed(data.ipKey);
    this.deps.metrics.auth.inc({ outcome: "timeout" });
    this.deps.audit.write({ socket: data.id, ip: data.ip, outcome: "timeout" }, "auth rejected");
    this.deps.sockets.refuse(ws, Refusals.timeout);
  }

  /** Joined on this node already: the fleet quota sees the count before this socket. */
  #fleetAdmits(tenantId: string): boolean {
    const { quota, admission } = this.deps;
    if (quota === undefined || quota.admit(tenantId, admission.tenantConnections(tenantId) - 1)) return true;
    admission.leaveTenant(tenantId);
    return false;
  }

  #authSettled(data: SocketData): void {
    if (!data.awaitingAuth) return;
    data.awaitingAuth = false;
    this.deps.admission.settled(data.ipKey);
  }

  #originAllowed(origin: string): boolean {
    const allowed = this.deps.config.allowedOrigins;
    if (allowed.length === 0 || allowed.includes("*")) return true;
    return origin !== "" && allowed.includes(origin);
  }

  #gauges(): void {
    this.deps.metrics.activeScopes.set(this.deps.scopes.size);
    this.deps.metrics.natsSubscriptions.set(this.deps.feeds.size);
    this.deps.metrics.derivedTopics.set(this.deps.sockets.derived.size);
  }
}
