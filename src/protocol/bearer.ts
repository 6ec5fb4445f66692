/**
 * The authentication decision for an HTTP request (history, SSE): the same credential stores as a
 * socket's auth message (the `Credentials` port of authenticate.ts), the same outcomes and
 * refusals, and a token's filter claim as a ceiling, already in the filter model.
 */
import { ClientProtocolError } from "../errors.js";
import { scopeOfRecord } from "../keys/key-record.js";
import type { AuthOutcome } from "../metrics/metrics.js";
import { NO_FILTER, parseFilter, type EventFilter } from "../scope/filter.js";
import type { Scope } from "../scope/scope.js";
import { isConnectionToken } from "../tokens/credential.js";
import { tokenCredential, tokenRefusal, type Credentials } from "./authenticate.js";
import type { Credential } from "./credential.js";
import { Refusals, type Refusal } from "./refusal.js";

export type BearerDecision =
  | { type: "reject"; outcome: AuthOutcome; refusal: Refusal; detail?: string }
  | { type: "accept"; outcome: "ok" | "token_ok"; credential: Credential; scope: Scope; ceiling: EventFilter };

/** Where the credential came from: a URL may carry a token, never an API key (it ends up in logs). */
export type CredentialSource = "header" | "url";

export function authenticateBearer(credential: string, source: CredentialSource, credentials: Pick<Credentials, "apiKey" | "token">): BearerDecision {
  if (isConnectionToken(credential)) {
    const verdict = credentials.token(credential);
    if (!verdict.ok) return tokenRefusal(verdict);
    let ceiling: EventFilter;
    try {
      ceiling = parseFilter(verdict.claims.filter);
    } catch (err) {
      if (!(err instanceof ClientProtocolError)) throw err;
      return { type: "reject", outcome: "token_invalid", refusal: Refusals.tokenInvalid, detail: err.message };
    }
    return { type: "accept", outcome: "token_ok", credential: tokenCredential(verdict), scope: verdict.scope, ceiling };
  }
  if (source === "url") {
    // Whether or not it is a valid key, it was exposed: say so, and do not look it up.
    return { type: "reject", outcome: "bad_request", refusal: { code: Refusals.invalidKey.code, reason: API_KEY_IN_URL } };
  }
  const found = credentials.apiKey(credential);
  if (found === undefined) return { type: "reject", outcome: "invalid_key", refusal: Refusals.invalidKey };
  return { type: "accept", outcome: "ok", credential: { kind: "key", hash: found.hash }, scope: scopeOfRecord(found.record), ceiling: NO_FILTER };
}

export const API_KEY_IN_URL = "An API key must not be sent in a URL: use Authorization: Bearer (only connection tokens may use ?token=)";
