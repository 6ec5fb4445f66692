/**
 * pino JSON logs. No credential reaches a log line: plaintext API keys and tokens are redacted by
 * field name (hash prefixes are what code logs), and URLs that may carry credentials (NATS_URL:
 * nats://user:password@host, nats://token@host) go through `redactUrl` before they are logged.
 */
import { pino, type DestinationStream, type Logger } from "pino";

/**
 * Fields whose value is a secret wherever it appears, at the top level or one object down
 * (`{ err: { token } }`, `{ config: { natsPassword } }`), and request headers that carry one.
 */
const SECRET_FIELDS = ["apiKey", "token", "password", "pass", "secret", "authorization", "natsPassword", "natsToken", "privateKey", "seed", "nkey", "jwt"];

export const REDACT_PATHS: readonly string[] = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
  "headers.authorization",
  "headers.cookie",
  "*.headers.authorization",
  "*.headers.cookie",
];

export function createLogger(level: string, name = "sms-ws-gateway", destination?: DestinationStream): Logger {
  const options = { name, level, base: { pid: process.pid }, redact: { paths: [...REDACT_PATHS], censor: "[redacted]" } };
  return destination === undefined ? pino(options) : pino(options, destination);
}

/** Query parameters that carry a credential in a URL (`?token=...`, `?password=...`). */
const SECRET_PARAM = /^(token|auth|authorization|pass|password|secret|jwt|nkey|seed|api_?key|access_token)$/i;

/**
 * A URL without its credentials, for logs and messages: the user-info part (`user:password@`,
 * `token@`) is dropped and credential-looking query values become `redacted`. Works on the
 * forms NATS_URL takes (`nats://`, `tls://`, `ws://`, `wss://` URLs and bare `host:port`), and on
 * text that is not a URL at all, without throwing.
 */
export function redactUrl(url: string): string {
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(url)?.[0] ?? "";
  const rest = url.slice(scheme.length);
  // The authority ends at the first "/", "?" or "#"; a password may itself contain "@", so the
  // user-info ends at the authority's LAST "@".
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd);
  const tail = authorityEnd === -1 ? "" : rest.slice(authorityEnd);
  const at = authority.lastIndexOf("@");
  const host = at === -1 ? authority : authority.slice(at + 1);
  return `${scheme}${host}${redactQuery(tail)}`;
}

function redactQuery(tail: string): string {
  const q = tail.indexOf("?");
  if (q === -1) return tail;
  const hash = tail.indexOf("#", q);
  const query = hash === -1 ? tail.slice(q + 1) : tail.slice(q + 1, hash);
  const redacted = query
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=");
      const key = eq === -1 ? pair : pair.slice(0, eq);
      return eq !== -1 && SECRET_PARAM.test(key) ? `${key}=redacted` : pair;
    })
    .join("&");
  return `${tail.slice(0, q)}?${redacted}${hash === -1 ? "" : tail.slice(hash)}`;
}

/** `redactUrl` over a server list (config.natsServers). */
export function redactServers(servers: readonly string[]): string[] {
  return servers.map(redactUrl);
}
