/**
 * Which nats-server and nats CLI a run uses (src/dev/nats-binaries.ts): the pin file, the cache
 * location, and the order NATS_SERVER_BIN > the pinned build (only at the pin) > the PATH.
 * The "builds" are tiny shell scripts printing a version, in a temporary cache.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { binaryVersion, goBinCache, natsCliBinary, natsPins, resolveNatsServer, type NatsPins } from "../../src/dev/nats-binaries.js";

const dir = mkdtempSync(join(tmpdir(), "smsws-nats-binaries-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PINS: NatsPins = { natsServer: "v2.15.3", natscli: "v0.5.0", natsServerFloor: "v2.9.10" };

/** A cache (XDG_CACHE_HOME) holding `name` that prints `output` for --version. */
function cacheWith(name: string, output: string): string {
  const xdg = mkdtempSync(join(dir, "xdg-"));
  const bin = join(xdg, "sms-ws-gateway", "go-bin");
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, name), `#!/bin/sh\necho '${output}'\n`);
  chmodSync(join(bin, name), 0o755);
  return xdg;
}

describe("natsPins", () => {
  it("reads versions.json at the repository root", () => {
    const pins = natsPins();
    expect(pins?.natsServer).toMatch(/^v2\.\d+\.\d+$/);
    expect(pins?.natscli).toMatch(/^v\d+\.\d+\.\d+$/);
    expect(pins?.natsServerFloor).toBe("v2.9.10");
  });

  it("is null without the file (the Docker image ships dist/ only) and names a malformed field", () => {
    expect(natsPins(join(dir, "absent.json"))).toBeNull();
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ "nats-server": "latest", natscli: "v0.5.0", "nats-server-floor": "v2.9.10" }));
    expect(() => natsPins(bad)).toThrow(/"nats-server" must be a version like v2\.15\.3, got "latest"/);
  });
});

describe("goBinCache", () => {
  it("is $XDG_CACHE_HOME/sms-ws-gateway/go-bin, else $HOME/.cache/...", () => {
    expect(goBinCache({ XDG_CACHE_HOME: "/x", HOME: "/h" })).toBe("/x/sms-ws-gateway/go-bin");
    expect(goBinCache({ HOME: "/h" })).toBe("/h/.cache/sms-ws-gateway/go-bin");
  });
});

describe("resolveNatsServer", () => {
  it("takes NATS_SERVER_BIN first", () => {
    const xdg = cacheWith("nats-server", "nats-server: v2.15.3");
    expect(resolveNatsServer({ NATS_SERVER_BIN: "/opt/nats-server", XDG_CACHE_HOME: xdg }, PINS)).toEqual({ path: "/opt/nats-server", source: "env" });
  });

  it("then the cache build when its --version is the pin", () => {
    const xdg = cacheWith("nats-server", "nats-server: v2.15.3");
    expect(resolveNatsServer({ XDG_CACHE_HOME: xdg }, PINS)).toEqual({ path: join(xdg, "sms-ws-gateway/go-bin/nats-server"), source: "pinned" });
    expect(binaryVersion(join(xdg, "sms-ws-gateway/go-bin/nats-server"))).toBe("v2.15.3");
  });

  it("never a cache build of another version: the PATH, with a warning naming the go install line", () => {
    const xdg = cacheWith("nats-server", "nats-server: v2.15.2");
    const r = resolveNatsServer({ XDG_CACHE_HOME: xdg }, PINS);
    expect(r).toMatchObject({ path: "nats-server", source: "path" });
    expect(r.warning).toContain("go install github.com/nats-io/nats-server/v2@v2.15.3");
  });

  it("the PATH without a warning when there is no pin file", () => {
    expect(resolveNatsServer({ XDG_CACHE_HOME: join(dir, "empty") }, null)).toEqual({ path: "nats-server", source: "path" });
  });
});

describe("natsCliBinary", () => {
  it("takes NATS_CLI_BIN, else the pinned build in the cache", () => {
    expect(natsCliBinary({ NATS_CLI_BIN: "/opt/nats" })).toBe("/opt/nats");
    const xdg = cacheWith("nats", natsPins()?.natscli ?? "");
    expect(natsCliBinary({ XDG_CACHE_HOME: xdg })).toBe(join(xdg, "sms-ws-gateway/go-bin/nats"));
  });

  it("throws, naming the go install line, when the pinned build is absent (no PATH fallback)", () => {
    expect(() => natsCliBinary({ XDG_CACHE_HOME: join(dir, "empty") })).toThrow(/go install github\.com\/nats-io\/natscli\/nats@v\d/);
  });
});
