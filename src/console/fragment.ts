/**
 * Settings passed in the URL fragment (`/console#token=...&url=...`): `sms-ws dev` prints such a
 * link. The fragment never leaves the browser (not sent in requests, not in server logs), which
 * is why a credential may travel there and never in a query string. It does stay in the address
 * bar and the browser history, so the console drops it once read (app.ts, history.replaceState).
 *
 * `url=` is honoured only when it names this page's own origin (sameOriginSocketUrl): a link to
 * the genuine console with `#url=ws://elsewhere/ws` would otherwise send the credential typed in
 * it to that host. The Content-Security-Policy (`connect-src 'self'`) refuses such a socket too.
 */
export interface FragmentSettings {
  url?: string;
  key?: string;
  token?: string;
}

export function parseFragment(hash: string): FragmentSettings {
  const params = new URLSearchParams(hash.startsWith("#") ? hash.slice(1) : hash);
  const out: FragmentSettings = {};
  for (const name of ["url", "key", "token"] as const) {
    const value = params.get(name);
    if (value !== null && value !== "") out[name] = value;
  }
  return out;
}

/**
 * `candidate` when it is a WebSocket URL of this page's origin (ws: for an http: page, wss: for
 * https:, the same host and port); undefined for anything else, which the console then ignores.
 */
export function sameOriginSocketUrl(candidate: string, location: { protocol: string; host: string }): string | undefined {
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return undefined;
  }
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  if (url.protocol !== scheme || url.host !== location.host || url.username !== "" || url.password !== "") return undefined;
  return url.href;
}

/** Default endpoint: this page's host, /ws, ws: or wss: like the page. */
export function defaultSocketUrl(location: { protocol: string; host: string }): string {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws`;
}
