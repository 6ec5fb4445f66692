/**
 * CORS for the HTTP endpoints (history, SSE), from ALLOWED_ORIGINS: the headers a response
 * carries, or a refusal. A request without Origin is not from a browser page (curl, a server):
 * CORS does not concern it, its credential does. With `*` any origin may read; otherwise the
 * origin is echoed when it is on the list (and `Vary: Origin` keeps caches honest).
 */

export type CorsDecision = { allowed: true; headers: readonly (readonly [string, string])[] } | { allowed: false };

/** Headers a page may send: the credential and the SSE resume position. */
const ALLOW_HEADERS = "authorization, last-event-id";
const PREFLIGHT_MAX_AGE_S = "600";

export function corsFor(origin: string, allowedOrigins: readonly string[]): CorsDecision {
  if (origin === "") return { allowed: true, headers: [] };
  const any = allowedOrigins.length === 0 || allowedOrigins.includes("*");
  if (!any && !allowedOrigins.includes(origin)) return { allowed: false };
  return {
    allowed: true,
    headers: [
      ["access-control-allow-origin", any ? "*" : origin],
      ...(any ? [] : ([["vary", "Origin"]] as const)),
      ["access-control-expose-headers", "retry-after"],
    ],
  };
}

/** The extra headers of a preflight (OPTIONS) answer. */
export const PREFLIGHT_HEADERS: readonly (readonly [string, string])[] = [
  ["access-control-allow-methods", "GET, OPTIONS"],
  ["access-control-allow-headers", ALLOW_HEADERS],
  ["access-control-max-age", PREFLIGHT_MAX_AGE_S],
];
