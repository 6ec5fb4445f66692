/**
 * What a server text frame means, as a tagged union. Plain functions, no socket: the client
 * switches on the result. Unknown `type`s are reported as such so the client can ignore them
 * (forward compatibility); events missing a required field are `invalid` and never reach the
 * application with a type that lies about them.
 */
import type { SmsEvent } from "./types.js";

export type ServerFrame =
  /**
   * `exp` (unix seconds): when the connection token expires; only on token sockets. `epochs`: an
   * admin socket on a partitioned stream, one epoch per partition in partition order.
   */
  | { type: "auth_ok"; epoch?: string; epochs?: string[]; exp?: number }
  /** A refresh was accepted: the socket now expires at `exp` (unix seconds). */
  | { type: "refresh_ok"; exp: number }
  | { type: "auth_error"; error: string }
  | { type: "resumed"; replayed: number }
  | { type: "resume_failed"; reason: string }
  /** Answer to a watch or unwatch: messages now followed; `ignored`: ids the server did not add. */
  | { type: "watch_ok"; count: number; ignored: number }
  | { type: "ping" }
  | { type: "event"; event: SmsEvent }
  | { type: "unknown"; name: string }
  | { type: "invalid"; problem: string };

type Json = Record<string, unknown>;

/** The server's limit on K; a longer `epochs` list is dropped (bounds what the client keeps). */
export const MAX_PARTITIONS = 1024;

const REQUIRED: Readonly<Record<SmsEvent["type"], readonly string[]>> = {
  sms_status: ["eventId", "messageId", "appId", "tenantId", "status", "timestamp"],
  sms_inbound: ["eventId", "messageId", "from", "to", "body", "tenantId", "timestamp"],
};
const OPTIONAL_STRINGS: Readonly<Record<SmsEvent["type"], readonly string[]>> = {
  sms_status: ["rcMessageId", "error"],
  sms_inbound: ["rcMessageId", "appId"],
};

export function parseServerFrame(text: string): ServerFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { type: "invalid", problem: "frame is not valid JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { type: "invalid", problem: "frame is not a JSON object" };
  }
  const o = value as Json;
  switch (o.type) {
    case "ping":
      return { type: "ping" };
    case "auth_ok": {
      const frame: { type: "auth_ok"; epoch?: string; epochs?: string[]; exp?: number } = { type: "auth_ok" };
      if (typeof o.epoch === "string" && o.epoch.length > 0) frame.epoch = o.epoch;
      // All or nothing: a list with one bad entry cannot be matched to partitions.
      const epochs = o.epochs;
      if (Array.isArray(epochs) && epochs.length > 0 && epochs.length <= MAX_PARTITIONS && epochs.every((e) => typeof e === "string" && e.length > 0)) frame.epochs = epochs as string[];
      // A malformed exp is dropped, not fatal: without it the client just never refreshes,
      // and the server's 4419 at expiry still brings a fresh token.
      if (isUnixSeconds(o.exp)) frame.exp = o.exp;
      return frame;
    }
    case "refresh_ok":
      return isUnixSeconds(o.exp) ? { type: "refresh_ok", exp: o.exp } : { type: "invalid", problem: "refresh_ok without a numeric exp" };
    case "auth_error":
      return { type: "auth_error", error: typeof o.error === "string" ? o.error : "authentication failed" };
    case "resumed":
      return { type: "resumed", replayed: typeof o.replayed === "number" ? o.replayed : 0 };
    case "resume_failed":
      return { type: "resume_failed", reason: typeof o.reason === "string" ? o.reason : "unknown" };
    case "watch_ok":
      if (typeof o.count !== "number" || !Number.isSafeInteger(o.count) || o.count < 0) return { type: "invalid", problem: "watch_ok without a count" };
      return { type: "watch_ok", count: o.count, ignored: typeof o.ignored === "number" ? o.ignored : 0 };
    case "sms_status":
    case "sms_inbound":
      return parseEvent(o, o.type);
    default:
      return { type: "unknown", name: typeof o.type === "string" ? o.type : String(o.type) };
  }
}

function isUnixSeconds(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v) && v > 0;
}

function parseEvent(o: Json, type: SmsEvent["type"]): ServerFrame {
  for (const field of REQUIRED[type]) {
    if (typeof o[field] !== "string") return { type: "invalid", problem: `${type} without string ${field}` };
  }
  for (const field of OPTIONAL_STRINGS[type]) {
    if (o[field] !== undefined && typeof o[field] !== "string") {
      return { type: "invalid", problem: `${type} with non-string ${field}` };
    }
  }
  if (o.seq !== undefined && !(typeof o.seq === "number" && Number.isSafeInteger(o.seq) && o.seq >= 0)) {
    return { type: "invalid", problem: `${type} with a seq that is not a non-negative integer` };
  }
  // Fields were checked above; unknown extra fields pass through untouched.
  return { type: "event", event: o as unknown as SmsEvent };
}
