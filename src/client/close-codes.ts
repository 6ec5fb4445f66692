/**
 * What the client does on each WebSocket close code. Mirrors the server's table
 * (src/protocol/close-codes.ts) from the client's side; kept here so the SDK has no imports
 * outside src/client and ships to browsers as is.
 */
import type { SmsWsErrorCode } from "./errors.js";

export type CloseAction =
  /** Reconnect after the backoff delay, resuming from the last position. */
  | { kind: "reconnect"; error?: SmsWsErrorCode }
  /** Give up: reconnecting with the same key or the same client cannot succeed. */
  | { kind: "stop"; error: SmsWsErrorCode };

/** Close code the client uses itself when the heartbeat watchdog gives up on a silent socket. */
export const HEARTBEAT_TIMEOUT_CLOSE = 4000;

const STOP: Readonly<Record<number, SmsWsErrorCode>> = {
  4400: "BAD_REQUEST", // first message was not a well-formed auth message: a client bug, do not loop
  4401: "AUTH_FAILED", // invalid, unknown or revoked key: the same key will be refused again
  4403: "FORBIDDEN", // origin not allowed
};

export function closeAction(code: number): CloseAction {
  const stop = STOP[code];
  if (stop !== undefined) return { kind: "stop", error: stop };
  // 1009: the only frame the SDK sends is auth, so this means an absurd API key or a proxy limit;
  // retrying with backoff is harmless, and the error tells the application.
  if (code === 1009) return { kind: "reconnect", error: "MESSAGE_TOO_BIG" };
  // 1001 (draining), 4408 (auth timeout), 4429 (slow consumer or tenant cap: backoff), 1006 (abnormal) and anything new.
  return { kind: "reconnect" };
}
