/**
 * What a client frame means. Plain functions: no sockets here.
 * Before authentication the only acceptable frame is a well-formed auth message; any problem is
 * reported with the reason the client sees in auth_error (close 4400).
 */
import { ClientProtocolError } from "../errors.js";
import { CloseCode } from "../client/close-codes.js";

export interface ResumeRequest {
  epoch: string;
  seq: number;
}

export interface AuthMessage {
  type: "auth";
  apiKey: string;
  resume?: ResumeRequest;
}

const MAX_API_KEY_LENGTH = 512;
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
  if (typeof o.apiKey !== "string" || o.apiKey.length === 0) throw bad("Auth message is missing apiKey");
  if (o.apiKey.length > MAX_API_KEY_LENGTH) throw bad("apiKey is too long");
  const auth: AuthMessage = { type: "auth", apiKey: o.apiKey };
  if (o.resume !== undefined && o.resume !== null) auth.resume = parseResume(o.resume);
  return auth;
}

function parseResume(value: unknown): ResumeRequest {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw bad("resume must be an object {epoch, seq}");
  }
  const r = value as Record<string, unknown>;
  if (typeof r.epoch !== "string" || r.epoch.length === 0 || r.epoch.length > 128) {
    throw bad("resume.epoch must be a non-empty string");
  }
  if (typeof r.seq !== "number" || !Number.isSafeInteger(r.seq) || r.seq < 0) {
    throw bad("resume.seq must be a non-negative integer");
  }
  return { epoch: r.epoch, seq: r.seq };
}
