/**
 * A compact JWS (RFC 7515 section 7.1) taken apart: header, payload, signing input, signature.
 * Only structure is checked here (segment count, strict base64url, UTF-8, JSON objects, sizes);
 * what the header and claims say is the verifier's business. Never throws.
 */
import { decodeBase64Url } from "./base64url.js";
import { HEADER_MAX_LENGTH, TOKEN_MAX_LENGTH } from "./limits.js";

export type JsonObject = Readonly<Record<string, unknown>>;

export interface CompactJws {
  readonly header: JsonObject;
  readonly payload: JsonObject;
  /** `<header>.<payload>` as sent: the bytes the signature covers. */
  readonly signingInput: string;
  readonly signature: Buffer;
}

export type JwsParseResult = { ok: true; jws: CompactJws } | { ok: false; detail: string };

// fatal: invalid UTF-8 is an error, not a U+FFFD that could make two tokens read the same.
const utf8 = new TextDecoder("utf-8", { fatal: true });

export function parseCompactJws(token: string): JwsParseResult {
  if (typeof token !== "string" || token.length === 0) return fail("token is empty or not a string");
  if (token.length > TOKEN_MAX_LENGTH) return fail(`token longer than ${TOKEN_MAX_LENGTH} characters`);
  const segments = token.split(".");
  if (segments.length !== 3) return fail(`token has ${segments.length} segments, expected 3 (compact JWS)`);
  const [headerText, payloadText, signatureText] = segments as [string, string, string];
  if (headerText.length > HEADER_MAX_LENGTH) return fail(`header longer than ${HEADER_MAX_LENGTH} characters`);

  const header = decodeJsonObject(headerText, "header");
  if (typeof header === "string") return fail(header);
  const payload = decodeJsonObject(payloadText, "payload");
  if (typeof payload === "string") return fail(payload);
  const signature = decodeBase64Url(signatureText);
  if (signature === undefined) return fail("signature is not base64url");
  return { ok: true, jws: { header, payload, signingInput: `${headerText}.${payloadText}`, signature } };
}

/** The decoded object, or a string saying what is wrong with the segment. */
function decodeJsonObject(segment: string, name: "header" | "payload"): JsonObject | string {
  if (segment.length === 0) return `${name} is empty`;
  const bytes = decodeBase64Url(segment);
  if (bytes === undefined) return `${name} is not base64url`;
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytes));
  } catch {
    return `${name} is not UTF-8 JSON`;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return `${name} is not a JSON object`;
  return value as JsonObject;
}

function fail(detail: string): { ok: false; detail: string } {
  return { ok: false, detail };
}
