/**
 * Who is the client? The TCP peer, unless that peer is one of our own proxies: then the
 * forwarded-for list says who the proxy was talking to.
 *
 * A forwarded-for header is a list that every proxy appends to ("client, proxy1, proxy2"), and
 * the client may start it with anything it likes. Only entries added by proxies we trust can be
 * believed, so the list is read from the right: skip our own proxies, and the first address that
 * is not one of them is the one the last trusted proxy saw: the client, as far as we can know.
 * The leftmost entry (what most code reads) is whatever the client wrote.
 */
import { formatIp, inAnyCidr, parseIp, type Cidr } from "../net/ip.js";

/**
 * The client address, in canonical text (see net/ip.ts).
 *
 * @param peer the TCP peer as uWS reports it (`res.getRemoteAddressAsText()`).
 * @param headerLines every line of the forwarded-for header, in the order received (a client
 *   may send its own line before the one the proxy appends; reading only the first line would
 *   let it win). Empty when the header is not configured or absent.
 * @param trustedProxies where our proxies connect from; the header is read only when the peer
 *   is inside one of these ranges.
 *
 * Falls back to the peer when the header is absent or holds an entry that is not an address
 * (garbage, a port, brackets, a zone id): a malformed list is not evidence of anything.
 */
export function clientAddress(peer: string, headerLines: readonly string[], trustedProxies: readonly Cidr[]): string {
  const peerIp = parseIp(peer);
  // uWS always reports an address; anything else is passed through untouched for the logs.
  if (peerIp === undefined) return peer;
  const peerText = formatIp(peerIp);
  if (headerLines.length === 0 || !inAnyCidr(peerIp, trustedProxies)) return peerText;
  const list = headerLines.join(",");
  let end = list.length;
  let lastTrusted: string | undefined;
  for (;;) {
    const comma = end === 0 ? -1 : list.lastIndexOf(",", end - 1);
    const entry = list.slice(comma + 1, end).trim();
    const ip = parseIp(entry);
    if (ip === undefined) return peerText;
    const text = formatIp(ip);
    if (!inAnyCidr(ip, trustedProxies)) return text;
    lastTrusted = text;
    if (comma === -1) break;
    end = comma;
  }
  // Every hop is one of our proxies (a probe or an internal caller): the origin is the leftmost.
  return lastTrusted ?? peerText;
}

/** The one thing needed from a uWS HttpRequest: every header line, duplicates included. */
export interface HeaderSource {
  forEach(cb: (key: string, value: string) => void): void;
}

/**
 * Every line of one header, in the order received. uWS's `getHeader(name)` returns only the
 * FIRST line, which for a forwarded-for header is the one a client may have written itself;
 * `forEach` visits every line, duplicates included, with lowercased keys. Like every uWS
 * request read, call it synchronously inside the handler.
 */
export function headerLines(req: HeaderSource, lowerCaseName: string): string[] {
  const lines: string[] = [];
  if (lowerCaseName === "") return lines;
  req.forEach((key, value) => {
    if (key === lowerCaseName) lines.push(value);
  });
  return lines;
}
