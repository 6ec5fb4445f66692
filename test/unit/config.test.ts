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
