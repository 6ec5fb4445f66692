/**
 * What verifying a connection token can conclude: one value per outcome, carrying the
 * `auth_error` text, the close code and the metric outcome, so the gateway turns a refusal into
 * a frame and a close without deciding anything itself.
 */
import { CloseCode } from "../client/close-codes.js";
import type { Scope } from "../scope/scope.js";
import type { ConnectionTokenClaims } from "./claims.js";

/** The `auth_error` texts (README.md, "Close codes"). */
export const TokenErrors = Object.freeze({
  invalid: "Invalid token",
  expired: "Token expired",
  revoked: "Token revoked",
} as const);

export type TokenOutcome = "token_invalid" | "token_expired" | "token_revoked";

export type AppScope = Extract<Scope, { role: "app" }>;

export interface TokenAccepted {
  readonly ok: true;
  readonly claims: ConnectionTokenClaims;
  /** What the socket may see: the token's tenant and app (then narrowed by claims.filter). */
  readonly scope: AppScope;
  /** The signer that vouched for it (a deleted signer revokes the socket). */
  readonly kid: string;
  /** claims.exp in ms since the epoch: when the gateway closes the socket with 4419. */
  readonly expMs: number;
}

interface Refusal<O extends TokenOutcome, E extends string, C extends number> {
  readonly ok: false;
  readonly outcome: O;
  readonly error: E;
  readonly closeCode: C;
  /** Why, for logs (never the token itself). */
  readonly detail: string;
}

export type TokenRejected =
  | Refusal<"token_invalid", typeof TokenErrors.invalid, typeof CloseCode.Unauthorized>
  | Refusal<"token_expired", typeof TokenErrors.expired, typeof CloseCode.TokenExpired>
  | Refusal<"token_revoked", typeof TokenErrors.revoked, typeof CloseCode.Unauthorized>;

export type TokenVerdict = TokenAccepted | TokenRejected;

export function invalidToken(detail: string): TokenRejected {
  return { ok: false, outcome: "token_invalid", error: TokenErrors.invalid, closeCode: CloseCode.Unauthorized, detail };
}

export function expiredToken(detail: string): TokenRejected {
  return { ok: false, outcome: "token_expired", error: TokenErrors.expired, closeCode: CloseCode.TokenExpired, detail };
}

export function revokedToken(detail: string): TokenRejected {
  return { ok: false, outcome: "token_revoked", error: TokenErrors.revoked, closeCode: CloseCode.Unauthorized, detail };
}
