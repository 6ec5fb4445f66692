/**
 * The authentication decision for a socket's first frame, as a plain function over the credential
 * stores: an API key is a map lookup, a connection token (the same field, or `token`) one
 * signature check after cheap structural checks (src/tokens/verify-token.ts).
 */
import { ClientProtocolError } from "../errors.js";
import { scopeOfRecord, type KeyRecord } from "../keys/key-record.js";
import type { AuthOutcome } from "../metrics/metrics.js";
import type { EventFilter } from "../scope/filter.js";
import type { Scope } from "../scope/scope.js";
import type { TokenFilter } from "../tokens/claims.js";
import { isConnectionToken } from "../tokens/credential.js";
import type { TokenAccepted, TokenVerdict } from "../tokens/verdict.js";
import { parseAuthMessage, type ResumeRequest } from "./client-messages.js";
import type { Credential } from "./credential.js";
import { Refusals, type Refusal } from "./refusal.js";

export type AuthDecision =
  | { type: "reject"; outcome: AuthOutcome; refusal: Refusal; detail?: string }
  | {
      type: "accept";
      outcome: "ok" | "token_ok";
      credential: Credential;
      scope: Scope;
      /** A token's filter claim: a ceiling on what the socket may receive. */
      filter?: TokenFilter;
      /** The filter the auth message asked for (intersected with the ceiling by the server). */
      requestedFilter?: EventFilter;
      resume?: ResumeRequest;
    };

/** What authentication asks of the node's stores. */
export interface Credentials {
  apiKey(key: string): { hash: string; record: KeyRecord } | undefined;
  token(token: string): TokenVerdict;
  /** A token verified before, checked again without its signature (src/tokens/refresh-scope.ts). */
  recheck(verdict: TokenAccepted): TokenVerdict;
}

export function authenticate(frame: ArrayBuffer, isBinary: boolean, credentials: Pick<Credentials, "apiKey" | "token">): AuthDecision {
  let auth;
  try {
    auth = parseAuthMessage(frame, isBinary);
  } catch (err) {
    if (!(err instanceof ClientProtocolError)) throw err;
    return { type: "reject", outcome: "bad_request", refusal: { code: err.closeCode, reason: err.message } };
  }
  const asked = {
    ...(auth.resume === undefined ? {} : { resume: auth.resume }),
    ...(auth.filter === undefined ? {} : { requestedFilter: auth.filter }),
  };
  if (isConnectionToken(auth.credential)) {
    const verdict = credentials.token(auth.credential);
    if (!verdict.ok) return tokenRefusal(verdict);
    return { type: "accept", outcome: "token_ok", credential: tokenCredential(verdict), scope: verdict.scope, ...filterOf(verdict), ...asked };
  }
  const found = credentials.apiKey(auth.credential);
  if (found === undefined) return { type: "reject", outcome: "invalid_key", refusal: Refusals.invalidKey };
  return { type: "accept", outcome: "ok", credential: keyCredential(found), scope: scopeOfRecord(found.record), ...asked };
}

/**
 * One credential per lookup answer: the key store answers with one object per stored record, so
 * every socket of a key shares one credential (docs/bench.md, "Idle memory per socket").
 */
const keyCredentials = new WeakMap<{ readonly hash: string }, Credential>();
function keyCredential(found: { readonly hash: string }): Credential {
  let credential = keyCredentials.get(found);
  if (credential === undefined) keyCredentials.set(found, (credential = Object.freeze({ kind: "key", hash: found.hash })));
  return credential;
}

export function tokenRefusal(verdict: Extract<TokenVerdict, { ok: false }>): Extract<AuthDecision, { type: "reject" }> {
  return { type: "reject", outcome: verdict.outcome, refusal: { code: verdict.closeCode, reason: verdict.error }, detail: verdict.detail };
}

export function tokenCredential(verdict: Extract<TokenVerdict, { ok: true }>): Credential {
  return { kind: "token", kid: verdict.kid, jti: verdict.claims.jti, sub: verdict.claims.sub, expMs: verdict.expMs };
}

function filterOf(verdict: Extract<TokenVerdict, { ok: true }>): { filter?: TokenFilter } {
  return verdict.claims.filter === undefined ? {} : { filter: verdict.claims.filter };
}
