import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, redactServers, redactUrl } from "../../src/log.js";

function capture(): { lines: () => Record<string, unknown>[]; stream: Writable } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join("")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe("redactUrl", () => {
  it.each([
    ["nats://user:pass@nats-0.nats:4222", "nats://nats-0.nats:4222"],
    ["nats://s3cr3t-token@127.0.0.1:4222", "nats://127.0.0.1:4222"],
    ["tls://user:p%40ss@nats.example.com:4443", "tls://nats.example.com:4443"],
    // An unencoded "@" in the password: everything up to the authority's last "@" goes.
    ["nats://user:p@ss@nats.example.com:4222", "nats://nats.example.com:4222"],
    ["wss://user:pw@[2001:db8::1]:443/nats?x=1", "wss://[2001:db8::1]:443/nats?x=1"],
    ["ws://gw.example.com/nats?token=abc&x=1#frag", "ws://gw.example.com/nats?token=redacted&x=1#frag"],
    ["wss://h/?Password=abc&API_KEY=k&plain", "wss://h/?Password=redacted&API_KEY=redacted&plain"],
    ["user:pass@host:4222", "host:4222"],
    ["nats://127.0.0.1:4222", "nats://127.0.0.1:4222"],
    ["host:4222", "host:4222"],
    ["", ""],
    ["not a url at all", "not a url at all"],
  ])("%s -> %s", (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });

  it("redacts a server list", () => {
    expect(redactServers(["nats://a:b@n1:4222", "nats://n2:4222", "nats://tok@n3:4222"])).toEqual(["nats://n1:4222", "nats://n2:4222", "nats://n3:4222"]);
  });
});

describe("createLogger", () => {
  it("redacts credentials by field name, at the top level and one object down", () => {
    const out = capture();
    const log = createLogger("info", "test", out.stream);
    log.info({ apiKey: "k1", token: "t1", password: "p1", authorization: "Bearer x", keyHash: "abcd1234" }, "top");
    log.info({ auth: { apiKey: "k2", token: "t2" }, config: { natsPassword: "p2", natsToken: "t3", natsUser: "svc" } }, "nested");
    log.info({ req: { headers: { authorization: "Bearer y", cookie: "sid=1", origin: "https://app" } } }, "headers");
    const text = JSON.stringify(out.lines());
    for (const secret of ["k1", "t1", "p1", "Bearer x", "k2", "t2", "p2", "t3", "Bearer y", "sid=1"]) expect(text).not.toContain(secret);
    const [top, nested, headers] = out.lines();
    expect(top).toMatchObject({ apiKey: "[redacted]", token: "[redacted]", keyHash: "abcd1234", msg: "top" });
    expect(nested).toMatchObject({ auth: { apiKey: "[redacted]" }, config: { natsUser: "svc", natsToken: "[redacted]" } });
    expect(headers).toMatchObject({ req: { headers: { origin: "https://app", authorization: "[redacted]" } } });
  });
});
