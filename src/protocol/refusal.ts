/**
 * A refusal is one value: the close code and the reason the client reads, both in its
 * `auth_error` frame (when the socket is told why) and in the close frame. One function on the
 * server (src/server/sockets.ts, refuse) turns it into the frame and the close.
 */
import { CloseCode, type CloseCodeValue } from "../client/close-codes.js";

export interface Refusal {
  readonly code: CloseCodeValue;
  readonly reason: string;
}

function refusal(code: CloseCodeValue, reason: string): Refusal {
  return Object.freeze({ code, reason });
}

/** Refusals with a fixed reason (the seed's strings where the seed has one). */
export const Refusals = {
  invalidKey: refusal(CloseCode.Unauthorized, "Invalid API key"),
  revoked: refusal(CloseCode.Unauthorized, "API key revoked"),
  timeout: refusal(CloseCode.AuthTimeout, "Authentication timeout"),
  tenantLimit: refusal(CloseCode.TooMany, "Too many connections for this tenant"),
  tokenExpired: refusal(CloseCode.TokenExpired, "Token expired"),
  tokenRevoked: refusal(CloseCode.Unauthorized, "Token revoked"),
  tokenInvalid: refusal(CloseCode.Unauthorized, "Invalid token"),
  slowConsumer: refusal(CloseCode.TooMany, "slow consumer"),
  replayStalled: refusal(CloseCode.TooMany, "replay stalled: read your socket"),
  replayBehind: refusal(CloseCode.TooMany, "too many live events held during the replay"),
  frameBudget: refusal(CloseCode.TooMany, "too many frames: slow down"),
  messageTooBig: refusal(CloseCode.MessageTooBig, "message too big"),
  shuttingDown: refusal(CloseCode.GoingAway, "server shutting down"),
  maxLifetime: refusal(CloseCode.GoingAway, "max lifetime reached"),
  resync: refusal(CloseCode.GoingAway, "resync: events missed, resume"),
  retry: refusal(CloseCode.GoingAway, "try again"),
  watchWithoutFilter: refusal(CloseCode.BadRequest, "watch needs a socket authenticated with a messageIds filter"),
  kicked: refusal(CloseCode.Kicked, "Kicked by an operator"),
  adminOnAppPool: refusal(CloseCode.Forbidden, "Admin credentials are not served here: connect to the admin endpoint"),
  appOnAdminPool: refusal(CloseCode.Forbidden, "App credentials are not served here: connect to the app endpoint"),
} as const;
