import { describe, expect, it } from "vitest";
import { acceptedEnv, helpText, loadConfig } from "../../src/config/config.js";
import { ConfigError } from "../../src/errors.js";

describe("config", () => {
  it("has defaults for everything and is frozen", () => {
    const c = loadConfig({});
    expect(c.port).toBe(8080);
    expect(c.metricsPort).toBe(9100);
    expect(c.authTimeoutMs).toBe(10_000);
    expect(c.pingIntervalMs).toBe(30_000);
    expect(c.natsServers).toEqual(["nats://127.0.0.1:4222"]);
    expect(c.allowedOrigins).toEqual(["*"]);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it("keeps /metrics on loopback unless told otherwise", () => {
    expect(loadConfig({}).metricsHost).toBe("127.0.0.1");
    expect(loadConfig({ METRICS_HOST: "0.0.0.0" }).metricsHost).toBe("0.0.0.0");
  });

  it("has a tarpit for failed authentications, off with either setting at 0", () => {
    const c = loadConfig({});
    expect(c.authFailuresPerIpPerMin).toBe(30);
    expect(c.authFailureMaxDelayMs).toBe(5000);
    expect(loadConfig({ AUTH_FAILURE_MAX_DELAY_MS: "0" }).authFailureMaxDelayMs).toBe(0);
    expect(() => loadConfig({ AUTH_FAILURE_MAX_DELAY_MS: "60001" })).toThrow(/AUTH_FAILURE_MAX_DELAY_MS="60001" is invalid/);
  });

  it("trusts no proxy by default, and parses TRUSTED_PROXIES into frozen CIDRs", () => {
    expect(loadConfig({}).trustedProxies).toEqual([]);
    const c = loadConfig({ TRUSTED_PROXY_HEADER: "X-Forwarded-For", TRUSTED_PROXIES: "10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,::ffff:172.16.0.0/108" });
    expect(c.trustedProxyHeader).toBe("x-forwarded-for");
    expect(c.trustedProxies.map((p) => p.text)).toEqual(["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32", "172.16.0.0/12"]);
    expect(Object.isFrozen(c.trustedProxies)).toBe(true);
    expect(Object.isFrozen(c.trustedProxies[0])).toBe(true);
  });

  it("requires TRUSTED_PROXY_HEADER and TRUSTED_PROXIES together", () => {
    expect(() => loadConfig({ TRUSTED_PROXY_HEADER: "x-forwarded-for" })).toThrow(ConfigError);
    expect(() => loadConfig({ TRUSTED_PROXY_HEADER: "x-forwarded-for" })).toThrow(/TRUSTED_PROXIES="" is invalid: expected the proxies' addresses or CIDRs/);
    expect(() => loadConfig({ TRUSTED_PROXIES: "10.0.0.0/8" })).toThrow(/TRUSTED_PROXY_HEADER="" is invalid/);
  });

  it.each([
    ["10.0.0.0/33", "not one"],
    ["10.0.0.0/8,proxy.internal", "not one"],
    ["fe80::1%eth0", "not one"],
    ["0.0.0.0/0", "trusts every address"],
    ["::/0", "trusts every address"],
  ])("refuses TRUSTED_PROXIES=%s", (value, why) => {
    const env = { TRUSTED_PROXY_HEADER: "x-forwarded-for", TRUSTED_PROXIES: value };
    expect(() => loadConfig(env)).toThrow(`TRUSTED_PROXIES=${JSON.stringify(value)} is invalid`);
    expect(() => loadConfig(env)).toThrow(why);
  });

  it("parses values", () => {
    const c = loadConfig({
      PORT: "1234",
      NATS_URL: "nats://a:4222, nats://b:4222",
      ALLOWED_ORIGINS: "https://app.example.com,http://localhost:3000",
      STREAM_ENABLED: "false",
      STREAM_STORAGE: "memory",
      METRICS_TENANTS: "t1,t2",
    });
    expect(c.port).toBe(1234);
    expect(c.natsServers).toEqual(["nats://a:4222", "nats://b:4222"]);
    expect(c.allowedOrigins).toEqual(["https://app.example.com", "http://localhost:3000"]);
    expect(c.streamEnabled).toBe(false);
    expect(c.streamStorage).toBe("memory");
    expect(c.metricsTenants).toEqual(["t1", "t2"]);
  });

  it.each([
    ["PORT", "http"],
    ["PORT", "70000"],
    ["AUTH_TIMEOUT_MS", "1.5"],
    ["NATS_URL", "not a url"],
    ["LOG_LEVEL", "loud"],
    ["STREAM_ENABLED", "maybe"],
    ["ALLOWED_ORIGINS", "example.com"],
    ["METRICS_TENANTS", "bad tenant"],
    ["MAX_BACKPRESSURE_BYTES", "10"],
  ])("rejects %s=%s naming the variable and value", (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(`${name}=${JSON.stringify(value)} is invalid`);
  });

  it("requires the shutdown deadline to exceed the drain", () => {
    expect(() => loadConfig({ DRAIN_DELAY_MS: "30000", DRAIN_WINDOW_MS: "20000" })).toThrow(/SHUTDOWN_TIMEOUT_MS/);
  });

  it("help lists every variable", () => {
    const text = helpText();
    for (const env of acceptedEnv) expect(text).toContain(env);
  });
});
