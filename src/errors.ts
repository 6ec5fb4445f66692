/**
 * One error class per failure, each with a stable `code`. Socket-level failures carry the
 * WebSocket close code the client sees (src/client/close-codes.ts says what a client does on it).
 */

export class GatewayError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A bad configuration value: names the variable and the value it got. */
export class ConfigError extends GatewayError {
  readonly variable: string;
  readonly value: string;
  constructor(variable: string, value: string, expected: string) {
    super("CONFIG_INVALID", `${variable}=${JSON.stringify(value)} is invalid: expected ${expected}`);
    this.variable = variable;
    this.value = value;
  }
}

/**
 * A client frame the node refuses; closeCode is the WebSocket close code sent with it (always
 * 4400, "fix the client": src/client/close-codes.ts).
 */
export class ClientProtocolError extends GatewayError {
  readonly closeCode: 4400;
  constructor(closeCode: 4400, message: string) {
    super("CLIENT_PROTOCOL", message);
    this.closeCode = closeCode;
  }
}

/** An event (from the bus or from a producer) that does not satisfy the bus contract. */
export class InvalidEventError extends GatewayError {
  /** Metric label: why the event was rejected. */
  readonly reason: RejectReason;
  constructor(reason: RejectReason, message: string) {
    super("EVENT_INVALID", message);
    this.reason = reason;
  }
}

/**
 * Why an event was rejected: the `reason` label of smsws_events_rejected_total. Stable values:
 * dashboards and alerts use them.
 */
export const REJECT_REASONS = [
  "decode", // not MessagePack, or not a map
  "bad_subject", // subject is not sms.<tenant>.<app>.<status|inbound>
  "missing_field", // a required field is absent or of the wrong type
  "bad_id", // eventId, messageId, tenantId or appId does not match ^[A-Za-z0-9_-]{1,64}$
  "too_large", // a field (or the whole payload) is longer than its documented cap
  "bad_value", // control or bidi-override characters, NUL in a body, a timestamp that is not a date
  "type_mismatch", // `type` disagrees with the subject's kind
  "tenant_mismatch", // `tenantId` disagrees with the subject's tenant token
  "app_mismatch", // `appId` disagrees with the subject's app token
  "foreign_stream", // with partitions: a live copy from a stream that is not the tenant's partition
] as const;

export type RejectReason = (typeof REJECT_REASONS)[number];

/** This process cannot serve on this runtime (uWebSockets.js has no native binary for it). */
export class UnsupportedRuntimeError extends GatewayError {
  constructor(message: string) {
    super("RUNTIME_UNSUPPORTED", message);
  }
}
