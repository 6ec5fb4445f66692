/**
 * Who is asking, for the HTTP endpoints: the credential from `Authorization: Bearer` (or, SSE
 * only, `?token=` for connection tokens), decided by protocol/bearer.ts over the same stores as
 * sockets, counted under the same auth outcomes, written to the audit log, and answered with the
 * same failed-authentication delay per client address (admission.ts) as a socket's auth message.
 * A request held for that delay counts against the address's MAX_UNAUTHENTICATED_PER_IP like a
 * socket waiting to authenticate; past it (or past MAX_UNAUTHENTICATED) it is answered at once,
 * 429 (503), so one address cannot hold an unbounded number of requests (and descriptors) open.
 */
import type { Metrics } from "../metrics/metrics.js";
import type { Credentials } from "../protocol/authenticate.js";
import { authenticateBearer, type BearerDecision } from "../protocol/bearer.js";
import { credentialLogFields } from "../protocol/credential.js";
import { bearerCredential, HistoryQueryError } from "../protocol/history-query.js";
import { scopeKey } from "../scope/scope.js";
import type { Admission } from "./admission.js";
import type { AuditLog } from "./audit.js";
import { errorBody, type HttpExchange } from "./http-exchange.js";

export type HttpAuthResult = Extract<BearerDecision, { type: "accept" }>;

export interface HttpAuthDeps {
  credentials: Credentials;
  admission: Admission;
  metrics: Metrics;
  audit: AuditLog;
}

export class HttpAuth {
  constructor(private readonly deps: HttpAuthDeps) {}

  /**
   * The accepted credential, or undefined once the exchange has been answered (400 for a
   * malformed, missing-in-the-right-place or doubled credential, 401 for a refused one, after the
   * address's failure delay). `urlToken` is the `?token=` value where the endpoint takes one.
   */
  authenticate(exchange: HttpExchange, urlToken: string | undefined, onStatus: (status: string) => void): Promise<HttpAuthResult | undefined> {
    const { authorization, ip, ipKey } = exchange.request;
    const refuse = (status: string, body: string, headers: readonly (readonly [string, string])[] = []): undefined => {
      onStatus(status);
      exchange.json(status, body, headers);
      return undefined;
    };
    if (authorization.length > 1) return Promise.resolve(refuse("400 Bad Request", errorBody("Authorization is given more than once", "Authorization")));
    let header: string | undefined;
    try {
      header = bearerCredential(authorization[0] ?? "");
    } catch (err) {
      if (!(err instanceof HistoryQueryError)) throw err;
      return Promise.resolve(refuse("400 Bad Request", errorBody(err.message, err.parameter)));
    }
    if (header !== undefined && urlToken !== undefined) {
      return Promise.resolve(refuse("400 Bad Request", errorBody("give the credential once: Authorization or ?token=, not both", "token")));
    }
    const credential = header ?? urlToken;
    if (credential === undefined) {
      return Promise.resolve(refuse("401 Unauthorized", errorBody("Missing credential: send Authorization: Bearer <API key or token>"), [["www-authenticate", "Bearer"]]));
    }
    const { metrics, audit, admission } = this.deps;
    const decision = authenticateBearer(credential, header === undefined ? "url" : "header", this.deps.credentials);
    if (decision.type === "accept") {
      metrics.auth.inc({ outcome: decision.outcome });
      audit.write({ ip, outcome: decision.outcome, http: true, ...credentialLogFields(decision.credential), scope: scopeKey(decision.scope) }, "auth ok");
      return Promise.resolve(decision);
    }
    metrics.auth.inc({ outcome: decision.outcome });
    audit.write({ ip, outcome: decision.outcome, http: true, ...(decision.detail === undefined ? {} : { detail: decision.detail }) }, "auth rejected");
    const status = decision.outcome === "bad_request" ? "400 Bad Request" : "401 Unauthorized";
    const body = errorBody(decision.refusal.reason, decision.outcome === "bad_request" ? "token" : undefined);
    const delayMs = admission.authFailed(ipKey);
    if (delayMs <= 0) return Promise.resolve(refuse(status, body, [["www-authenticate", "Bearer"]]));
    const full = admission.holdFailure(ipKey);
    if (full !== undefined) {
      const retryAfter = String(Math.max(1, Math.ceil(delayMs / 1000)));
      return Promise.resolve(refuse(full.status, errorBody("Too many requests from this address waiting for an answer"), [["retry-after", retryAfter]]));
    }
    metrics.authDelayed.inc();
    return new Promise((resolve) => {
      setTimeout(() => {
        admission.settled(ipKey);
        resolve(refuse(status, body, [["www-authenticate", "Bearer"]]));
      }, delayMs).unref();
    });
  }
}
