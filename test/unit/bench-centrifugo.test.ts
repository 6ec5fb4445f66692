/** bench/lib/centrifugo.mjs: the connection tokens and the cache path the Centrifugo peer uses (docs/bench.md). */
import { createHmac } from "node:crypto";
import { homedir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { connectionToken, goBinDir, scopeChannel } from "../../bench/lib/centrifugo.mjs";

const part = (s: string) => JSON.parse(Buffer.from(s, "base64url").toString("utf8"));

describe("bench Centrifugo peer", () => {
  afterEach(() => vi.unstubAllEnvs());

  it("mints an HS256 JWT whose channels claim is the scope's NATS subject", () => {
    const secret = "s3cret";
    const before = Math.floor(Date.now() / 1000);
    const token = connectionToken(secret, "t1-a2", [scopeChannel("t1", "a2")], 60);
    const [head = "", body = "", sig] = token.split(".");
    expect(part(head)).toEqual({ alg: "HS256", typ: "JWT" });
    const claims = part(body);
    expect(claims.sub).toBe("t1-a2");
    expect(claims.channels).toEqual(["sms.t1.a2.status"]);
    expect(claims.exp).toBeGreaterThanOrEqual(before + 60);
    expect(claims.exp).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 60);
    expect(sig).toBe(createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url"));
    // another secret does not verify it
    expect(sig).not.toBe(createHmac("sha256", "other").update(`${head}.${body}`).digest("base64url"));
  });

  it("derives the Go peer cache from XDG_CACHE_HOME, else ~/.cache", () => {
    vi.stubEnv("XDG_CACHE_HOME", "/x/cache");
    expect(goBinDir()).toBe(join("/x/cache", "sms-ws-gateway", "go-bin"));
    vi.stubEnv("XDG_CACHE_HOME", "");
    expect(goBinDir()).toBe(join(homedir(), ".cache", "sms-ws-gateway", "go-bin"));
  });
});
