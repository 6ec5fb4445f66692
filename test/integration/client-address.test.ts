/**
 * The client address through a real uWS request: every forwarded-for line (uWS getHeader() returns
 * only the first), read only from a trusted peer. A minimal uWS app answers with what
 * clientAddress() decided, wired the way the gateway's upgrade handler wires it.
 */
import { connect } from "node:net";
import type { us_listen_socket } from "uWebSockets.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addressKey, parseCidr, type Cidr } from "../../src/net/ip.js";
import { loadUws } from "../../src/runtime/uws-runtime.js";
import { clientAddress, headerLines } from "../../src/server/client-address.js";

// The uWS the gateway loads (production 20.57, or the development fallback on Node 20).
const uWS = loadUws();
const listenSockets: us_listen_socket[] = [];
const ports: Record<string, number> = {};

function cidrs(...texts: string[]): Cidr[] {
  return texts.map((t) => parseCidr(t)).filter((c) => c !== undefined);
}

async function listen(trusted: Cidr[]): Promise<number> {
  const app = uWS.App();
  app.get("/*", (res, req) => {
    // Everything read from req is read here, synchronously.
    const peer = Buffer.from(res.getRemoteAddressAsText()).toString();
    const lines = headerLines(req, "x-forwarded-for");
    const first = req.getHeader("x-forwarded-for");
    const ip = clientAddress(peer, lines, trusted);
    res.cork(() => res.end(JSON.stringify({ peer, lines, first, ip, key: addressKey(ip) })));
  });
  const s = await new Promise<us_listen_socket>((resolve, reject) =>
    app.listen("127.0.0.1", 0, (ls) => (ls === false ? reject(new Error("listen failed")) : resolve(ls))),
  );
  listenSockets.push(s);
  return uWS.us_socket_local_port(s);
}

beforeAll(async () => {
  // The test client connects from 127.0.0.1: one server trusts it as a proxy, one does not.
  ports.trusting = await listen(cidrs("127.0.0.0/8"));
  ports.distrusting = await listen(cidrs("10.0.0.0/8"));
});

afterAll(() => {
  for (const s of listenSockets) uWS.us_listen_socket_close(s);
});

/** Raw HTTP, so that duplicate header lines go out exactly as written. */
function get(port: number, headerBlock: string): Promise<{ peer: string; lines: string[]; first: string; ip: string; key: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1", () => sock.write(`GET / HTTP/1.1\r\nhost: x\r\n${headerBlock}connection: close\r\n\r\n`));
    let data = "";
    sock.on("data", (c: Buffer) => (data += c.toString()));
    sock.on("error", reject);
    sock.on("close", () => {
      const body = data.slice(data.indexOf("\r\n\r\n") + 4);
      try {
        resolve(JSON.parse(body));
      } catch {
        reject(new Error(`unexpected answer: ${data}`));
      }
    });
  });
}

describe("client address on a real uWS request", () => {
  it("uWS forEach gives every header line in order; getHeader only the first", async () => {
    const r = await get(ports.trusting as number, "X-Forwarded-For: 6.6.6.6\r\nx-forwarded-for: 198.51.100.1, 203.0.113.9\r\n");
    expect(r.first).toBe("6.6.6.6");
    expect(r.lines).toEqual(["6.6.6.6", "198.51.100.1, 203.0.113.9"]);
  });

  it("a client-written line before the proxy's does not choose the address", async () => {
    const r = await get(ports.trusting as number, "x-forwarded-for: 6.6.6.6\r\nx-forwarded-for: 198.51.100.1\r\n");
    expect(r.peer).toBe("127.0.0.1");
    expect(r.ip).toBe("198.51.100.1");
  });

  it("an untrusted peer's header is ignored", async () => {
    const r = await get(ports.distrusting as number, "x-forwarded-for: 198.51.100.1\r\n");
    expect(r.ip).toBe("127.0.0.1");
  });

  it("groups an IPv6 client by /64 and falls back to the peer on garbage", async () => {
    const v6 = await get(ports.trusting as number, "x-forwarded-for: 2001:DB8:1:2:0:0:0:99\r\n");
    expect(v6.ip).toBe("2001:db8:1:2::99");
    expect(v6.key).toBe("2001:db8:1:2::/64");
    const garbage = await get(ports.trusting as number, "x-forwarded-for: 198.51.100.1, unknown\r\n");
    expect(garbage.ip).toBe("127.0.0.1");
    const none = await get(ports.trusting as number, "");
    expect(none.ip).toBe("127.0.0.1");
  });
});
