/**
 * What an authenticated socket may send: `refresh` (a new connection token for the same tenant
 * and app extends the socket) and `watch`/`unwatch` (the messages a socket with a `messageIds`
 * filter follows). Anything else is ignored (forward compatibility); a malformed watch is a
 * client bug (auth_error, 4400).
 */
import type { Logger } from "pino";
import { CloseCode } from "../client/close-codes.js";
import type { Metrics } from "../metrics/metrics.js";
import { tokenCredential, tokenRefusal, type Credentials } from "../protocol/authenticate.js";
import { parseClientMessage, type ClientMessage } from "../protocol/client-messages.js";
import { credentialLogFields } from "../protocol/credential.js";
import { Refusals } from "../protocol/refusal.js";
import { refreshOkFrame, watchOkFrame } from "../protocol/server-messages.js";
import { refreshKeepsScope } from "../tokens/refresh-scope.js";
import type { AuditLog } from "./audit.js";
import type { Socket, SocketRegistry } from "./sockets.js";

export interface SessionDeps {
  credentials: Credentials;
  sockets: SocketRegistry;
  metrics: Metrics;
  audit: AuditLog;
  log: Logger;
  /** Filters changed: refresh the gauges that count derived topics. */
  watched: () => void;
}

export class SessionMessages {
  constructor(private readonly deps: SessionDeps) {}

  handle(ws: Socket, message: ArrayBuffer, isBinary: boolean): void {
    const parsed = parseClientMessage(message, isBinary);
    if (parsed.type === "watch" || parsed.type === "unwatch" || parsed.type === "invalid") this.#watch(ws, parsed);
    else if (parsed.type === "refresh") this.#refresh(ws, parsed.token);
  }

  /** `{"type":"refresh","token"}` on a token socket; ignored on an API-key socket. */
  #refresh(ws: Socket, token: string | undefined): void {
    const data = ws.getUserData();
    if (data.credential?.kind !== "token" || data.scope?.role !== "app") return;
    const { metrics, sockets, audit } = this.deps;
    const verdict = token === undefined ? undefined : this.deps.credentials.token(token);
    if (verdict === undefined || !verdict.ok || !refreshKeepsScope(data.scope, verdict)) {
      const outcome = verdict === undefined ? "invalid" : verdict.ok ? "scope" : verdict.outcome.replace("token_", "");
      metrics.tokenRefreshes.inc({ outcome });
      audit.write({ socket: data.id, ip: data.ip, ...credentialLogFields(data.credential), outcome }, "token refresh refused");
      sockets.refuse(ws, verdict === undefined || verdict.ok ? Refusals.tokenInvalid : tokenRefusal(verdict).refusal);
      return;
    }
    data.credential = tokenCredential(verdict);
    metrics.tokenRefreshes.inc({ outcome: "ok" });
    this.deps.log.debug({ socket: data.id, ...credentialLogFields(data.credential) }, "token refreshed");
    sockets.send(ws, refreshOkFrame(Math.floor(verdict.expMs / 1000)));
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
