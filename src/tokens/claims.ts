/**
 * The claims of a connection token (README.md, "Connection tokens") and their shape checks. Times are checked by the
 * verifier (it knows the clock); here only types, patterns and sizes. The same checks guard the
 * mint helper, so a token it signs always has a valid shape.
 */
import { ID_PATTERN, TENANT_WIDE_APP } from "../events/event.js";
import { FILTER_LIMITS, JTI_PATTERN, SUB_MAX_LENGTH } from "./limits.js";

/**
 * A ceiling on what the socket may receive (src/scope/filter.ts). Validated for shape only: the gateway's
 * filter logic decides what the values mean.
 */
export interface TokenFilter {
  readonly types?: readonly string[];
  readonly statuses?: readonly string[];
  readonly messageIds?: readonly string[];
}

export interface ConnectionTokenClaims {
  readonly tenantId: string;
  /** An app of that tenant; never the tenant-wide token "_". */
  readonly appId: string;
  /** Expiry, unix seconds (JWT NumericDate). */
  readonly exp: number;
  /** Issued at, unix seconds. */
  readonly iat: number;
  /** Not before, unix seconds (standard JWT claim; optional). */
  readonly nbf?: number;
  /** End-user id: logged, never a metric label. */
  readonly sub?: string;
  /** Token id, for single-token revocation. */
  readonly jti?: string;
  readonly filter?: TokenFilter;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; detail: string };

const FILTER_FIELDS = ["types", "statuses", "messageIds"] as const;

/** Checks a decoded JWT payload. Unknown claims (iss, aud, ...) are ignored, as JWT intends. */
export function parseTokenClaims(payload: Readonly<Record<string, unknown>>): Checked<ConnectionTokenClaims> {
  const { tenantId, appId, exp, iat, nbf, sub, jti, filter } = payload;
  if (typeof tenantId !== "string" || !ID_PATTERN.test(tenantId)) return fail(`tenantId must be a string matching ${ID_PATTERN}`);
  if (typeof appId !== "string" || !ID_PATTERN.test(appId) || appId === TENANT_WIDE_APP) {
    return fail(`appId must be a string matching ${ID_PATTERN}, not "${TENANT_WIDE_APP}"`);
  }
  if (!isNumericDate(exp)) return fail("exp must be a number (unix seconds)");
  if (!isNumericDate(iat)) return fail("iat must be a number (unix seconds)");
  if (nbf !== undefined && !isNumericDate(nbf)) return fail("nbf must be a number (unix seconds)");
  if (sub !== undefined && (typeof sub !== "string" || sub.length === 0 || sub.length > SUB_MAX_LENGTH)) {
    return fail(`sub must be a string of 1 to ${SUB_MAX_LENGTH} characters`);
  }
  if (jti !== undefined && (typeof jti !== "string" || !JTI_PATTERN.test(jti))) return fail(`jti must be a string matching ${JTI_PATTERN}`);
  let checkedFilter: TokenFilter | undefined;
  if (filter !== undefined) {
    const f = parseTokenFilter(filter);
    if (!f.ok) return f;
    checkedFilter = f.value;
  }
  return {
    ok: true,
    value: {
      tenantId,
      appId,
      exp,
      iat,
      ...(nbf === undefined ? {} : { nbf: nbf as number }),
      ...(sub === undefined ? {} : { sub }),
      ...(jti === undefined ? {} : { jti }),
      ...(checkedFilter === undefined ? {} : { filter: checkedFilter }),
    },
  };
}

/**
 * `filter`: an object with optional lists of non-empty strings, each within FILTER_LIMITS.
 * An unknown field is refused: a misspelt ceiling ("messageID") would silently not narrow.
 */
export function parseTokenFilter(value: unknown): Checked<TokenFilter> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return fail("filter must be an object");
  const o = value as Record<string, unknown>;
  for (const field of Object.keys(o)) {
    if (!(FILTER_FIELDS as readonly string[]).includes(field)) return fail(`filter has an unknown field "${field.slice(0, 32)}"`);
  }
  const out: { -readonly [K in keyof TokenFilter]: TokenFilter[K] } = {};
  for (const field of FILTER_FIELDS) {
    const list = o[field];
    if (list === undefined) continue;
    const limit = FILTER_LIMITS[field];
    if (!Array.isArray(list) || list.length > limit) return fail(`filter.${field} must be an array of at most ${limit} strings`);
    for (const item of list) {
      if (typeof item !== "string" || item.length === 0 || item.length > FILTER_LIMITS.itemLength) {
        return fail(`filter.${field} must hold strings of 1 to ${FILTER_LIMITS.itemLength} characters`);
      }
    }
    out[field] = Object.freeze([...(list as string[])]);
  }
  return { ok: true, value: Object.freeze(out) };
}

/** A JWT NumericDate: a finite, non-negative number of seconds (fractions allowed by RFC 7519). */
function isNumericDate(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0;
}

function fail(detail: string): { ok: false; detail: string } {
  return { ok: false, detail };
}
