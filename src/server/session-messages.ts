/**
 * What an authenticated socket may send: `refresh` (a new connection token for the same tenant
 * and app extends the socket, and its filter claim can only narrow the socket's) and
 * `watch`/`unwatch` (the messages a socket with a `messageIds` filter follows). Anything else is
 * ignored (forward compatibility); a malformed watch is a client bug (auth_error, 4400).
 * Every frame is first charged to the socket's budget (frame-budget.ts): over it, 4429.
 */
import type { Logger } from "pino";
import { CloseCode } from "../client/close-codes.js";
import { ClientProtocolError } from "../errors.js";
import type { Metrics } from "../metrics/metrics.js";
import { tokenCredential, tokenRefusal, type Credentials } from "../protocol/authenticate.js";
import { parseClientMessage, type ClientMessage } from "../protocol/client-messages.js";
import { credentialLogFields } from "../protocol/credential.js";
import { Refusals } from "../protocol/refusal.js";
import { refreshOkFrame, watchOkFrame } from "../protocol/server-messages.js";
import { parseFilter } from "../scope/filter.js";
import type { FilterLimits } from "../scope/socket-filter.js";
import { refreshKeepsScope } from "../tokens/refresh-scope.js";
import type { TokenVerdict } from "../tokens/verdict.js";
import type { AuditLog } from "./audit.js";
import { FrameBudget, type FrameBudgetLimits } from "./frame-budget.js";
import type { Socket, SocketData, SocketRegistry } from "./sockets.js";

export interface SessionDeps {
  credentials: Credentials;
  sockets: SocketRegistry;
  metrics: Metrics;
  audit: AuditLog;
  log: Logger;
  budget: FrameBudgetLimits;
  filterLimits: FilterLimits;
  now?: () => number;
  /** Filters changed: refresh the gauges that count derived topics. */
  watched: () => void;
}

export class SessionMessages {
  readonly #now: () => number;

  constructor(private readonly deps: SessionDeps) {
    this.#now = deps.now ?? Date.now;
  }

  handle(ws: Socket, message: ArrayBuffer, isBinary: boolean): void {
    const parsed = parseClientMessage(message, isBinary);
    if (!this.#charge(ws, parsed)) return;
    if (parsed.type === "watch" || parsed.type === "unwatch" || parsed.type === "invalid") this.#watch(ws, parsed);
    else if (parsed.type === "refresh") this.#refresh(ws, parsed.token);
  }

  /** Charge the frame (and a refresh) to the socket's budget; over it, the socket is refused (4429). */
  #charge(ws: Socket, parsed: ClientMessage): boolean {
    const data = ws.getUserData();
    const now = this.#now();
    data.budget ??= new FrameBudget(this.deps.budget, now);
    const topics = parsed.type === "watch" || parsed.type === "unwatch" ? parsed.messageIds.length * Math.max(1, data.filter?.topicsPerId ?? 1) : 0;
    if (data.budget.frame(topics, now) && (parsed.type !== "refresh" || data.budget.refresh(now))) return true;
    this.deps.audit.write({ socket: data.id, ip: data.ip, frame: parsed.type, ...(data.credential === undefined ? {} : credentialLogFields(data.credential)) }, "frame budget exceeded: socket refused");
    this.deps.sockets.refuse(ws, Refusals.frameBudget);
    return false;
  }

  /** `{"type":"refresh","token"}` on a token socket; ignored on an API-key socket. */
  #refresh(ws: Socket, token: string | undefined): void {
    const data = ws.getUserData();
    if (data.credential?.kind !== "token" || data.scope?.role !== "app") return;
    const { metrics, sockets, audit } = this.deps;
    const verdict = token === undefined ? undefined : this.#verify(data, token);
    if (verdict === undefined || !verdict.ok || !refreshKeepsScope(data.scope, verdict)) {
      const outcome = verdict === undefined ? "invalid" : verdict.ok ? "scope" : verdict.outcome.replace("token_", "");
      metrics.tokenRefreshes.inc({ outcome });
      audit.write({ socket: data.id, ip: data.ip, ...credentialLogFields(data.credential), outcome }, "token refresh refused");
      sockets.refuse(ws, verdict === undefined || verdict.ok ? Refusals.tokenInvalid : tokenRefusal(verdict).refusal);
      return;
    }
    const narrowed = this.#narrow(ws, verdict.claims.filter);
    if (narrowed !== undefined) {
      metrics.tokenRefreshes.inc({ outcome: "scope" });
      audit.write({ socket: data.id, ip: data.ip, ...credentialLogFields(data.credential), outcome: "scope", detail: narrowed.message }, "token refresh refused");
      sockets.refuse(ws, { code: narrowed.closeCode, reason: narrowed.message });
      return;
    }
    data.credential = tokenCredential(verdict);
    data.refreshed = { token: token as string, verdict };
    metrics.tokenRefreshes.inc({ outcome: "ok" });
    this.deps.log.debug({ socket: data.id, ...credentialLogFields(data.credential) }, "token refreshed");
    sockets.send(ws, refreshOkFrame(Math.floor(verdict.expMs / 1000)));
  }

  /** The token the socket last refreshed with is re-checked, not verified again (src/tokens/refresh-scope.ts). */
  #verify(data: SocketData, token: string): TokenVerdict {
    const cached = data.refreshed;
    if (cached !== undefined && cached.token === token) return this.deps.credentials.recheck(cached.verdict);
    return this.deps.credentials.token(token);
  }

  /** The new token's filter claim narrows the socket's filter; a ClientProtocolError when it cannot. */
  #narrow(ws: Socket, claim: unknown): ClientProtocolError | undefined {
    try {
      this.deps.sockets.narrow(ws, parseFilter(claim), this.deps.filterLimits);
      this.deps.watched();
      return undefined;
    } catch (err) {
      if (err instanceof ClientProtocolError) return err;
      throw err;
    }
  }

  /** Only on a socket authenticated with a messageIds filter; answered watch_ok. */
  #watch(ws: Socket, parsed: Extract<ClientMessage, { type: "watch" | "unwatch" | "invalid" }>): void {
    const { sockets } = this.deps;
    if (parsed.type === "invalid") return sockets.refuse(ws, { code: CloseCode.BadRequest, reason: parsed.reason });
    if (ws.getUserData().filter?.watches !== true) return sockets.refuse(ws, Refusals.watchWithoutFilter);
    const result = sockets.watch(ws, parsed.messageIds, parsed.type === "unwatch");
    sockets.send(ws, watchOkFrame(result.count, result.ignored));
    this.deps.watched();
  }
}
