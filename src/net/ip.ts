/**
 * IP addresses and CIDR ranges, without a dependency: parse, normalise, match, group.
 *
 * Rules (strict on purpose: these texts come from clients and proxies):
 * - IPv4 is a dotted quad of decimal octets without leading zeros ("010.0.0.1" is refused: C's
 *   inet_aton reads it as octal, so two parsers would disagree on which address it is).
 * - IPv6 is bracketless text (RFC 4291 section 2.2, "::" at most once, an IPv4 tail allowed);
 *   brackets, ports and zone ids ("fe80::1%eth0") are refused.
 * - An IPv4-mapped IPv6 address (::ffff:a.b.c.d, which is how a dual-stack socket reports an
 *   IPv4 peer) IS that IPv4 address: it parses to family 4, so it matches IPv4 ranges and is
 *   grouped like IPv4.
 * - Output text is canonical: IPv4 dotted quad, IPv6 as RFC 5952 (lowercase, longest zero run
 *   compressed), so one address has one text (uWS reports peers uncompressed).
 */

export interface Ip {
  readonly family: 4 | 6;
  /** 4 bytes (IPv4) or 16 bytes (IPv6), network order. */
  readonly bytes: Uint8Array;
}

export interface Cidr extends Ip {
  /** Leading bits that must match: 0..32 (IPv4) or 0..128 (IPv6). */
  readonly prefix: number;
  /** Canonical text, e.g. "10.0.0.0/8", "2001:db8::/32". */
  readonly text: string;
}

/** The longest IPv6 text (45 chars, with an IPv4 tail): anything longer is not an address. */
const MAX_ADDRESS_TEXT = 45;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;

function parseIpv4(text: string): Uint8Array | undefined {
  const m = IPV4.exec(text);
  if (m === null) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = m[i + 1] as string;
    if (part.length > 1 && part.startsWith("0")) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    bytes[i] = n;
  }
  return bytes;
}

/** Groups of one side of "::" as 16-bit words; an IPv4 tail is allowed only at the very end. */
function parseGroups(text: string, allowIpv4Tail: boolean): number[] | undefined {
  if (text === "") return [];
  const parts = text.split(":");
  const words: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    if (allowIpv4Tail && i === parts.length - 1 && part.includes(".")) {
      const v4 = parseIpv4(part);
      if (v4 === undefined) return undefined;
      words.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
    } else {
      if (!HEX_GROUP.test(part)) return undefined;
      words.push(parseInt(part, 16));
    }
  }
  return words;
}

function parseIpv6(text: string): Uint8Array | undefined {
  const gap = text.indexOf("::");
  let words: number[];
  if (gap === -1) {
    const all = parseGroups(text, true);
    if (all === undefined || all.length !== 8) return undefined;
    words = all;
  } else {
    if (text.indexOf("::", gap + 1) !== -1) return undefined;
    const head = parseGroups(text.slice(0, gap), false);
    const tail = parseGroups(text.slice(gap + 2), true);
    // "::" stands for at least one zero group.
    if (head === undefined || tail === undefined || head.length + tail.length > 7) return undefined;
    words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const bytes = new Uint8Array(16);
  words.forEach((w, i) => {
    bytes[2 * i] = w >> 8;
    bytes[2 * i + 1] = w & 0xff;
  });
  return bytes;
}

function isMappedIpv4(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** Parse an address; undefined when the text is not exactly one IPv4 or IPv6 address. */
export function parseIp(text: string): Ip | undefined {
  if (text.length === 0 || text.length > MAX_ADDRESS_TEXT) return undefined;
  if (!text.includes(":")) {
    const v4 = parseIpv4(text);
    return v4 === undefined ? undefined : { family: 4, bytes: v4 };
  }
  const v6 = parseIpv6(text);
  if (v6 === undefined) return undefined;
  if (isMappedIpv4(v6)) return { family: 4, bytes: v6.slice(12) };
  return { family: 6, bytes: v6 };
}

/** Canonical text: dotted quad, or RFC 5952 IPv6. */
export function formatIp(ip: Ip): string {
  const b = ip.bytes;
  if (ip.family === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((b[i] as number) << 8) | (b[i + 1] as number));
  // The longest run of two or more zero groups is written "::" (the first one on a tie).
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(":");
  if (bestStart === -1) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLength))}`;
}

/** Canonical text of an address, or undefined when it is not one. */
export function normalizeIp(text: string): string | undefined {
  const ip = parseIp(text);
  return ip === undefined ? undefined : formatIp(ip);
}

function masked(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bits = Math.max(0, Math.min(8, prefix - 8 * i));
    out[i] = (bytes[i] as number) & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

/**
 * Parse "address/prefix" or a bare address (a /32 or /128). Host bits are cleared
 * ("10.1.2.3/8" is 10.0.0.0/8). An IPv4-mapped range (::ffff:0:0/96 and narrower) becomes the
 * IPv4 range it denotes. Undefined when malformed.
 */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const ip = parseIp(addressText);
  if (ip === undefined) return undefined;
  // An address written in mapped form counts its prefix in IPv6 bits.
  const writtenAsV6 = addressText.includes(":");
  const width = writtenAsV6 ? 128 : 32;
  let prefix = width;
  if (slash !== -1) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p.startsWith("0"))) return undefined;
    prefix = Number(p);
    if (prefix > width) return undefined;
  }
  if (writtenAsV6 && ip.family === 4) {
    // ::ffff:a.b.c.d/n with n < 96 would span non-mapped IPv6 space: refuse rather than guess.
    if (prefix < 96) return undefined;
    prefix -= 96;
  }
  const bytes = masked(ip.bytes, prefix);
  const base = { family: ip.family, bytes };
  return { ...base, prefix, text: `${formatIp(base)}/${prefix}` };
}

export function cidrContains(cidr: Cidr, ip: Ip): boolean {
  if (cidr.family !== ip.family) return false;
  const full = cidr.prefix >> 3;
  for (let i = 0; i < full; i++) if (cidr.bytes[i] !== ip.bytes[i]) return false;
  const rest = cidr.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((ip.bytes[full] as number) & mask) === cidr.bytes[full];
}

export function inAnyCidr(ip: Ip, cidrs: readonly Cidr[]): boolean {
  for (const c of cidrs) if (cidrContains(c, ip)) return true;
  return false;
}

/**
 * The key per-address limits count under: an IPv4 address is its own key (/32); IPv6 addresses
 * are grouped by their /64 ("2001:db8:1:2::/64"), the smallest block a single subscriber
 * normally holds, so one host cannot dodge a limit by walking through its 2^64 addresses.
 * Text that is not an address is its own key.
 */
export function addressKey(address: string): string {
  const ip = parseIp(address);
  if (ip === undefined) return address;
  if (ip.family === 4) {
    // The same text as the address (the common case) is the address itself: one string per socket, not two.
    const key = formatIp(ip);
    return key === address ? address : key;
  }
  return `${formatIp({ family: 6, bytes: masked(ip.bytes, 64) })}/64`;
}
