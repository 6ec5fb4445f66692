/**
 * What a client frame means. Plain functions: no sockets here.
 * Before authentication the only acceptable frame is a well-formed auth message; any problem is
 * reported with the reason the client sees in auth_error (close 4400). After it, frames of a known
 * type are acted on and anything else is ignored (forward compatibility).
 */
import { ClientProtocolError } from "../errors.js";
import { CloseCode } from "../client/close-codes.js";
import { ID_PATTERN } from "../events/event.js";
import { parseFilter, type EventFilter } from "../scope/filter.js";
import { FILTER_LIMITS, TOKEN_MAX_LENGTH } from "../tokens/limits.js";
import { parseRfc3339 } from "./history-query.js";

/** A position in one stream incarnation (one partition's, with STREAM_PARTITIONS > 1). */
export interface StreamPosition {
  epoch: string;
  seq: number;
}

/**
 * From a position in one stream incarnation, from one position per partition (`positions`, admin
 * sockets with STREAM_PARTITIONS > 1, in partition order), or (`since`, RFC 3339) from a time.
 */
export type ResumeRequest = StreamPosition | { positions: readonly StreamPosition[] } | { sinceMs: number };

/** At most this many positions in `resume.positions` (STREAM_PARTITIONS is at most this). */
export const MAX_RESUME_POSITIONS = 1024;

export interface AuthMessage {
  type: "auth";
  /** An API key or a connection token: the seed's `apiKey` field carries either; `token` too. */
  credential: string;
  resume?: ResumeRequest;
  /** The filter asked for (README.md, "Filters and watches"); absent: the whole scope (within a token's ceiling). */
  filter?: EventFilter;
}

/**
 * Frames an authenticated socket may send; `other` is ignored. `invalid`: a known type that is
 * malformed (answered auth_error and 4400, like a malformed auth message).
 */
export type ClientMessage =
  | { type: "refresh"; token: string | undefined }
  | { type: "watch" | "unwatch"; messageIds: readonly string[] }
  | { type: "invalid"; reason: string }
  | { type: "other" };

/** The longest credential: a token (API keys are far shorter); the frame limit is sized to hold it. */
const MAX_CREDENTIAL_LENGTH = TOKEN_MAX_LENGTH;
const decoder = new TextDecoder("utf-8", { fatal: true });

function bad(message: string): ClientProtocolError {
  return new ClientProtocolError(CloseCode.BadRequest, message);
}

/** Parse the first client frame. Throws ClientProtocolError(4400) with a client-facing reason. */
export function parseAuthMessage(frame: ArrayBuffer, isBinary: boolean): AuthMessage {
  if (isBinary) throw bad("Expected a text frame with the auth message, got a binary frame");
  let text: string;
  try {
    text = decoder.decode(frame);
  } catch {
    throw bad("Auth message is not valid UTF-8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw bad("Auth message is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw bad("Auth message must be a JSON object");
  }
  const o = value as Record<string, unknown>;
  if (o.type !== "auth") throw bad('First message must have type "auth"');
  if (o.apiKey !== undefined && o.token !== undefined) throw bad("Auth message has both apiKey and token: send one");
  const credential = o.apiKey ?? o.token;
  if (typeof credential !== "string" || credential.length === 0) throw bad("Auth message is missing apiKey (or token)");
  if (credential.length > MAX_CREDENTIAL_LENGTH) throw bad(`${o.apiKey === undefined ? "token" : "apiKey"} is too long`);
  const auth: AuthMessage = { type: "auth", credential };
  if (o.resume !== undefined && o.resume !== null) auth.resume = parseResume(o.resume);
  if (o.filter !== undefined && o.filter !== null) auth.filter = parseFilter(o.filter);
  return auth;
}

function parseResume(value: unknown): ResumeRequest {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw bad("resume must be an object {epoch, seq} or {since}");
  }
  const r = value as Record<string, unknown>;
  if (r.positions !== undefined) {
    if (r.epoch !== undefined || r.seq !== undefined || r.since !== undefined) throw bad("resume takes {positions} alone");
    if (!Array.isArray(r.positions) || r.positions.length === 0 || r.positions.length > MAX_RESUME_POSITIONS) {
      throw bad(`resume.positions must be an array of 1 to ${MAX_RESUME_POSITIONS} {epoch, seq}`);
    }
    return { positions: r.positions.map((p) => parsePosition(p, "resume.positions[]")) };
  }
  if (r.since !== undefined) {
    if (r.epoch !== undefined || r.seq !== undefined) throw bad("resume takes {epoch, seq} or {since}, not both");
    const sinceMs = typeof r.since === "string" && r.since.length <= 64 ? parseSince(r.since) : NaN;
    if (Number.isNaN(sinceMs)) throw bad("resume.since must be an RFC 3339 time such as 2025-01-31T12:00:00Z");
    return { sinceMs };
  }
  return parsePosition(r, "resume");
}

function parsePosition(value: unknown, where: string): StreamPosition {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw bad(`${where} must be an object {epoch, seq}`);
  const r = value as Record<string, unknown>;
  if (typeof r.epoch !== "string" || r.epoch.length === 0 || r.epoch.length > 128) {
    throw bad(`${where}.epoch must be a non-empty string`);
  }
  if (typeof r.seq !== "number" || !Number.isSafeInteger(r.seq) || r.seq < 0) {
    throw bad(`${where}.seq must be a non-negative integer`);
  }
  return { epoch: r.epoch, seq: r.seq };
}

/** A frame from an authenticated socket. Never throws: what it cannot read is `other`. */
export function parseClientMessage(frame: ArrayBuffer, isBinary: boolean): ClientMessage {
  if (isBinary) return { type: "other" };
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(frame));
  } catch {
    return { type: "other" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { type: "other" };
  const o = value as Record<string, unknown>;
  if (o.type === "refresh") return { type: "refresh", token: typeof o.token === "string" ? o.token : undefined };
  if (o.type === "watch" || o.type === "unwatch") return parseWatch(o.type, o.messageIds);
  return { type: "other" };
}

/** `{"type":"watch"|"unwatch","messageIds":[...]}`: at most FILTER_LIMITS.messageIds ids a frame. */
function parseWatch(type: "watch" | "unwatch", ids: unknown): ClientMessage {
  const limit = FILTER_LIMITS.messageIds;
  if (!Array.isArray(ids) || ids.length > limit) return { type: "invalid", reason: `${type}.messageIds must be an array of at most ${limit} message ids` };
  for (const id of ids) {
    if (typeof id !== "string" || !ID_PATTERN.test(id)) return { type: "invalid", reason: `${type}.messageIds: ${JSON.stringify(String(id).slice(0, 32))} is not a message id` };
  }
  return { type, messageIds: ids as string[] };
}

/** ms since the epoch, or NaN when not an RFC 3339 time. */
function parseSince(value: string): number {
  try {
    return parseRfc3339(value, "resume.since");
  } catch {
    return NaN;
  }
}
