/**
 * Settings passed in the URL fragment (`/console#token=...&url=...`): `sms-ws dev` prints such a
 * link. The fragment never leaves the browser (not sent in requests, not in server logs), which
 * is why a credential may travel there and never in a query string.
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

/** Default endpoint: this page's host, /ws, ws: or wss: like the page. */
export function defaultSocketUrl(location: { protocol: string; host: string }): string {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws`;
}
