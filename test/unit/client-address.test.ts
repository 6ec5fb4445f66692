import { describe, expect, it } from "vitest";
import { parseCidr, type Cidr } from "../../src/net/ip.js";
import { clientAddress, headerLines } from "../../src/server/client-address.js";

function cidrs(...texts: string[]): Cidr[] {
  return texts.map((t) => {
    const c = parseCidr(t);
    if (c === undefined) throw new Error(t);
    return c;
  });
}

// An ingress tier (10.0.0.0/8) behind a cloud load balancer (192.0.2.10).
const proxies = cidrs("10.0.0.0/8", "192.0.2.10", "2001:db8:ffff::/48");
const lb = "10.1.2.3";

describe("clientAddress", () => {
  it("is the TCP peer when no header line came", () => {
    expect(clientAddress("203.0.113.7", [], proxies)).toBe("203.0.113.7");
    expect(clientAddress(lb, [], proxies)).toBe(lb);
  });

  it("ignores the header from a peer that is not a trusted proxy (a client talking to us directly)", () => {
    expect(clientAddress("203.0.113.7", ["198.51.100.1"], proxies)).toBe("203.0.113.7");
    expect(clientAddress("203.0.113.7", ["10.1.1.1"], proxies)).toBe("203.0.113.7");
    // Trusting no proxy at all: the header is never read.
    expect(clientAddress(lb, ["198.51.100.1"], [])).toBe(lb);
  });

  it("takes the address the last trusted proxy saw", () => {
    expect(clientAddress(lb, ["198.51.100.1"], proxies)).toBe("198.51.100.1");
    // client -> 192.0.2.10 (cloud LB) -> 10.1.2.3 (ingress) -> us
    expect(clientAddress(lb, ["198.51.100.1, 192.0.2.10"], proxies)).toBe("198.51.100.1");
    expect(clientAddress(lb, ["198.51.100.1,192.0.2.10,10.9.9.9"], proxies)).toBe("198.51.100.1");
  });

  it("does not let a client-written list entry win", () => {
    // The client wrote "6.6.6.6" itself; the proxy appended the address it really saw.
    expect(clientAddress(lb, ["6.6.6.6, 198.51.100.1"], proxies)).toBe("198.51.100.1");
    // A client claiming to be one of our proxies gains nothing: the proxy appended its real address.
    expect(clientAddress(lb, ["10.0.0.1, 198.51.100.1"], proxies)).toBe("198.51.100.1");
  });

  it("reads every header line in order: a client's own line before the proxy's does not win", () => {
    // uWS getHeader() returns only the first line: "6.6.6.6", chosen by the client.
    expect(clientAddress(lb, ["6.6.6.6", "198.51.100.1"], proxies)).toBe("198.51.100.1");
    expect(clientAddress(lb, ["6.6.6.6, 7.7.7.7", "198.51.100.1, 192.0.2.10"], proxies)).toBe("198.51.100.1");
    // An empty client line is harmless.
    expect(clientAddress(lb, ["", "198.51.100.1"], proxies)).toBe("198.51.100.1");
  });

  it("falls back to the peer when the entry it would use is not an address", () => {
    for (const garbage of ["unknown", "", " ", "198.51.100.1:5555", "[2001:db8::1]", "fe80::1%eth0", "x".repeat(10_000), "1.2.3.4 5.6.7.8"]) {
      expect(clientAddress(lb, [garbage], proxies), garbage).toBe(lb);
      expect(clientAddress(lb, [`198.51.100.1, ${garbage}`], proxies), garbage).toBe(lb);
    }
    expect(clientAddress(lb, ["198.51.100.1,"], proxies)).toBe(lb);
    // Garbage left of the answer is never looked at.
    expect(clientAddress(lb, ["garbage, 198.51.100.1"], proxies)).toBe("198.51.100.1");
  });

  it("is the leftmost entry when every hop is a trusted proxy", () => {
    expect(clientAddress(lb, ["10.0.0.7, 192.0.2.10"], proxies)).toBe("10.0.0.7");
  });

  it("normalises IPv6 and IPv4-mapped addresses, and matches proxies in either form", () => {
    // A dual-stack listener reports an IPv4 proxy as ::ffff:a.b.c.d (uncompressed hex in uWS).
    expect(clientAddress("0000:0000:0000:0000:0000:ffff:0a01:0203", ["198.51.100.1"], proxies)).toBe("198.51.100.1");
    expect(clientAddress("0000:0000:0000:0000:0000:ffff:cb00:7107", [], proxies)).toBe("203.0.113.7");
    expect(clientAddress("2001:db8:ffff:1::5", ["2001:DB8:0:0:0:0:0:1"], proxies)).toBe("2001:db8::1");
    expect(clientAddress(lb, ["::ffff:198.51.100.1"], proxies)).toBe("198.51.100.1");
    expect(clientAddress(lb, ["2001:db8::1, 2001:db8:ffff::2"], proxies)).toBe("2001:db8::1");
  });

  it("passes an unparseable peer through unchanged", () => {
    expect(clientAddress("", ["198.51.100.1"], proxies)).toBe("");
  });
});

describe("headerLines", () => {
  const req = {
    forEach(cb: (key: string, value: string) => void): void {
      for (const [k, v] of [["host", "x"], ["x-forwarded-for", "6.6.6.6"], ["origin", "o"], ["x-forwarded-for", "198.51.100.1"]]) cb(k as string, v as string);
    },
  };

  it("collects every line of one header, in order", () => {
    expect(headerLines(req, "x-forwarded-for")).toEqual(["6.6.6.6", "198.51.100.1"]);
    expect(headerLines(req, "x-real-ip")).toEqual([]);
    expect(headerLines(req, "")).toEqual([]);
  });
});
