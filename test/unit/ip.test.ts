import { describe, expect, it } from "vitest";
import { addressKey, cidrContains, formatIp, inAnyCidr, normalizeIp, parseCidr, parseIp, type Cidr, type Ip } from "../../src/net/ip.js";

function ip(text: string): Ip {
  const parsed = parseIp(text);
  if (parsed === undefined) throw new Error(`not an address: ${text}`);
  return parsed;
}

function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (parsed === undefined) throw new Error(`not a CIDR: ${text}`);
  return parsed;
}

describe("parseIp / formatIp", () => {
  it.each([
    ["0.0.0.0", "0.0.0.0"],
    ["203.0.113.7", "203.0.113.7"],
    ["255.255.255.255", "255.255.255.255"],
    ["::", "::"],
    ["::1", "::1"],
    ["2001:DB8::1", "2001:db8::1"],
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    // uWS reports IPv6 peers uncompressed; a dual-stack socket reports IPv4 peers as mapped.
    ["0000:0000:0000:0000:0000:0000:0000:0001", "::1"],
    ["0000:0000:0000:0000:0000:ffff:7f00:0001", "127.0.0.1"],
    ["::ffff:198.51.100.9", "198.51.100.9"],
    ["::FFFF:c633:6409", "198.51.100.9"],
    // RFC 5952: the longest zero run is compressed, the first on a tie, never a single group.
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["1:0:0:0:2:0:0:0", "1::2:0:0:0"],
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
    ["::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"],
    ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
    ["fe80::1", "fe80::1"],
  ])("%s -> %s", (text, canonical) => {
    expect(normalizeIp(text)).toBe(canonical);
  });

  it.each([
    "",
    " 1.2.3.4",
    "1.2.3",
    "1.2.3.4.5",
    "256.1.1.1",
    "01.2.3.4",
    "1.2.3.4:8080",
    "1.2.3.-4",
    "0x7f.0.0.1",
    "[::1]",
    "[2001:db8::1]:443",
    "fe80::1%eth0",
    "fe80::1%25eth0",
    ":::",
    "1:::2",
    "1::2::3",
    ":1::2",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8::",
    "12345::1",
    "g::1",
    "::1.2.3.4.5",
    "1.2.3.4::",
    "::ffff:256.0.0.1",
    "unknown",
    "x".repeat(5000),
  ])("refuses %j", (text) => {
    expect(parseIp(text)).toBeUndefined();
  });

  it("formats what it parses", () => {
    expect(formatIp({ family: 4, bytes: new Uint8Array([10, 0, 0, 1]) })).toBe("10.0.0.1");
    expect(formatIp(ip("2001:db8::"))).toBe("2001:db8::");
  });
});

describe("CIDR", () => {
  it.each([
    ["10.0.0.0/8", "10.0.0.0/8"],
    ["10.1.2.3/8", "10.0.0.0/8"],
    ["192.0.2.1", "192.0.2.1/32"],
    ["2001:db8::/32", "2001:db8::/32"],
    ["2001:db8::1", "2001:db8::1/128"],
    ["::ffff:10.0.0.0/104", "10.0.0.0/8"],
    ["172.16.0.0/12", "172.16.0.0/12"],
    ["0.0.0.0/0", "0.0.0.0/0"],
  ])("parses %s as %s", (text, canonical) => {
    expect(cidr(text).text).toBe(canonical);
  });

  it.each(["10.0.0.0/33", "2001:db8::/129", "10.0.0.0/", "10.0.0.0/08", "10.0.0.0/a", "/8", "::ffff:10.0.0.0/64", "10.0.0.0/8/8", "fe80::/10%eth0"])(
    "refuses %j",
    (text) => {
      expect(parseCidr(text)).toBeUndefined();
    },
  );

  it("matches addresses by prefix and family", () => {
    const private10 = cidr("10.0.0.0/8");
    expect(cidrContains(private10, ip("10.255.1.2"))).toBe(true);
    expect(cidrContains(private10, ip("11.0.0.1"))).toBe(false);
    expect(cidrContains(private10, ip("::ffff:10.1.2.3"))).toBe(true);
    expect(cidrContains(private10, ip("::a01:203"))).toBe(false);
    const odd = cidr("172.16.0.0/12");
    expect(cidrContains(odd, ip("172.31.255.255"))).toBe(true);
    expect(cidrContains(odd, ip("172.32.0.0"))).toBe(false);
    const v6 = cidr("2001:db8:abcd::/45");
    expect(cidrContains(v6, ip("2001:db8:abcf:ffff::1"))).toBe(true);
    expect(cidrContains(v6, ip("2001:db8:abd0::1"))).toBe(false);
    expect(cidrContains(cidr("192.0.2.7"), ip("192.0.2.7"))).toBe(true);
    expect(cidrContains(cidr("192.0.2.7"), ip("192.0.2.8"))).toBe(false);
    expect(cidrContains(cidr("0.0.0.0/0"), ip("8.8.8.8"))).toBe(true);
    expect(inAnyCidr(ip("::1"), [private10, cidr("::1")])).toBe(true);
    expect(inAnyCidr(ip("::1"), [])).toBe(false);
  });
});

describe("addressKey", () => {
  it("keeps IPv4 addresses whole and groups IPv6 by /64", () => {
    expect(addressKey("203.0.113.7")).toBe("203.0.113.7");
    expect(addressKey("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(addressKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd")).toBe("2001:db8:1:2::/64");
    expect(addressKey("2001:db8:1:2::1")).toBe(addressKey("2001:db8:1:2:ffff:ffff:ffff:ffff"));
    expect(addressKey("2001:db8:1:3::1")).not.toBe(addressKey("2001:db8:1:2::1"));
    expect(addressKey("::1")).toBe("::/64");
    expect(addressKey("not an address")).toBe("not an address");
  });
});
