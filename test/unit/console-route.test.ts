/** What /console answers: the built files only, with their types, CSP, cache headers and ETags. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CONSOLE_CSP, consoleAnswer, loadConsoleAssets } from "../../src/server/console-route.js";

const dir = mkdtempSync(join(tmpdir(), "smsws-console-"));
writeFileSync(join(dir, "index.html"), "<!doctype html><title>c</title>");
writeFileSync(join(dir, "app.js"), "export {};");
writeFileSync(join(dir, "console.css"), "body{}");
writeFileSync(join(dir, ".hidden.js"), "secret");
writeFileSync(join(dir, "notes.txt"), "not served: unknown type");
mkdirSync(join(dir, "sub.js"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const header = (answer: { headers: readonly (readonly [string, string])[] }, name: string): string | undefined =>
  answer.headers.find(([n]) => n === name)?.[1];

describe("console route", () => {
  const assets = loadConsoleAssets(dir);

  it("loads only files with a known type and a plain name", () => {
    expect([...assets.keys()].sort()).toEqual(["app.js", "console.css", "index.html"]);
  });

  it("serves the page at /console and /console/, files by exact name, with their content types", () => {
    for (const url of ["/console", "/console/", "/console/index.html"]) {
      const a = consoleAnswer(assets, url, "");
      expect(a.status).toBe("200 OK");
      expect(header(a, "content-type")).toBe("text/html; charset=utf-8");
    }
    expect(header(consoleAnswer(assets, "/console/app.js", ""), "content-type")).toBe("text/javascript; charset=utf-8");
    expect(header(consoleAnswer(assets, "/console/console.css", ""), "content-type")).toBe("text/css; charset=utf-8");
  });

  it("answers 404 to anything else: traversal, encoded or not, hidden files, sub-paths", () => {
    for (const url of [
      "/console/../package.json",
      "/console/..%2fpackage.json",
      "/console/%2e%2e/%2e%2e/etc/passwd",
      "/console/.hidden.js",
      "/console/notes.txt",
      "/console/sub.js",
      "/console/app.js/x",
      "/console//app.js",
      "/consolex",
      "/console/APP.JS",
    ]) {
      const a = consoleAnswer(assets, url, "");
      expect(a.status, url).toBe("404 Not Found");
      expect(header(a, "content-security-policy")).toBe(CONSOLE_CSP);
    }
  });

  it("sends a strict CSP, nosniff, no-referrer and revalidation headers", () => {
    const a = consoleAnswer(assets, "/console", "");
    const csp = header(a, "content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self';");
    expect(csp).not.toMatch(/ws:|wss:|\*/);
    expect(csp).not.toContain("unsafe");
    expect(header(a, "x-content-type-options")).toBe("nosniff");
    expect(header(a, "referrer-policy")).toBe("no-referrer");
    expect(header(a, "cache-control")).toBe("no-cache");
    expect(header(a, "etag")).toMatch(/^"[\w-]{22}"$/);
  });

  it("answers 304 without a body when the ETag matches", () => {
    const etag = header(consoleAnswer(assets, "/console/app.js", ""), "etag") as string;
    const a = consoleAnswer(assets, "/console/app.js", `"other", ${etag}`);
    expect(a.status).toBe("304 Not Modified");
    expect(a.body).toBe("");
    expect(consoleAnswer(assets, "/console/app.js", '"other"').status).toBe("200 OK");
  });

  it("refuses to start without a built console, saying how to build it", () => {
    expect(() => loadConsoleAssets(join(dir, "missing"))).toThrow(/npm run build/);
  });
});
