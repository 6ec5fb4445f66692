/**
 * WebSocket close codes the gateway sends, and what a client should do on each.
 * 4xxx codes mirror HTTP statuses (4401 = 401) so they read at a glance.
 */
export const CloseCode = {
  /** Node shutting down or draining: reconnect (another node will take the socket), resume. */
  GoingAway: 1001,
  /** Frame larger than 4 KiB (sent by uWS itself): fix the client; reconnecting repeats it. */
  MessageTooBig: 1009,
  /** First message was not a well-formed auth message: fix the client, do not loop. */
  BadRequest: 4400,
  /** Invalid, unknown or revoked API key: do not reconnect with the same key. */
  Unauthorized: 4401,
  /** Origin not allowed (answered 403 before the upgrade; listed for completeness). */
  Forbidden: 4403,
  /** No auth message within AUTH_TIMEOUT_MS: reconnect and authenticate at once. */
  AuthTimeout: 4408,
  /**
   * Too many or too slow: a slow consumer (send buffer passed MAX_BACKPRESSURE_BYTES) or the
   * tenant's connection cap. Reconnect with backoff, resume.
   */
  TooMany: 4429,
  SlowConsumer: 4429,
} as const;

export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

/** Whether a well-behaved client reconnects after this close code. */
export function shouldReconnect(code: number): boolean {
  return code !== CloseCode.Unauthorized && code !== CloseCode.BadRequest && code !== CloseCode.Forbidden;
}
