/**
 * The SDK as a package (packages/client): one ES module that imports nothing, made only of
 * src/client, within its size budget, with declarations that resolve inside the package, and
 * byte-identical to the copy the developer console loads.
 */
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(__dirname, "../..");
const PKG = join(ROOT, "packages/client");
const BUNDLE = join(PKG, "dist/sms-ws-client.js");
const MIN = join(PKG, "dist/sms-ws-client.min.js");

/** The budget a tenant's page pays for the SDK: minified and gzipped. */
export const SDK_GZIP_BUDGET_BYTES = 10 * 1024;

beforeAll(() => {
  // `npm test` builds first; a bare `vitest run` on a fresh clone builds the bundles here.
  if (!existsSync(BUNDLE) || !existsSync(MIN)) execFileSync(process.execPath, ["scripts/build-web.mjs", "bundle"], { cwd: ROOT });
});

describe("@sms-ws/client package", () => {
  it(`stays under ${SDK_GZIP_BUDGET_BYTES} bytes minified and gzipped`, () => {
    const min = readFileSync(MIN);
    const gzipped = gzipSync(min, { level: 9 }).length;
    expect(gzipped).toBeLessThanOrEqual(SDK_GZIP_BUDGET_BYTES);
    // Not a budget, a sanity check that the minified file is the same code.
    expect(min.length).toBeLessThan(readFileSync(BUNDLE).length);
  });

  it("imports nothing outside itself (bundling it again resolves no module)", async () => {
    for (const file of [BUNDLE, MIN]) {
      const result = await build({
        stdin: { contents: readFileSync(file, "utf8"), loader: "js", resolveDir: dirname(file) },
        bundle: true,
        write: false,
        metafile: true,
        format: "esm",
        platform: "neutral",
        logLevel: "silent",
      });
      expect(Object.keys(result.metafile.inputs)).toEqual(["<stdin>"]);
    }
  });

  it("is made of src/client only (no server code rides along)", () => {
    const map = JSON.parse(readFileSync(`${BUNDLE}.map`, "utf8")) as { sources: string[] };
    const sources = map.sources.map((s) => relative(ROOT, resolve(dirname(BUNDLE), s)));
    expect(sources.length).toBeGreaterThan(5);
    for (const s of sources) expect(s).toMatch(/^src\/client\//);
  });

  it("exports the SDK's public names", async () => {
    const sdk = (await import(BUNDLE)) as Record<string, unknown>;
    for (const name of ["createClient", "SmsWsClient", "SmsWsError", "closeAction", "backoffDelay"]) expect(typeof sdk[name]).toBe("function");
  });

  it("has a package.json a tenant can install: ESM, exports, types, files, no dependencies", () => {
    const pkg = JSON.parse(readFileSync(join(PKG, "package.json"), "utf8")) as Record<string, unknown>;
    expect(pkg).toMatchObject({ name: "@sms-ws/client", type: "module", files: ["dist", "README.md"] });
    expect(pkg.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(typeof pkg.license).toBe("string");
    expect(pkg.dependencies).toBeUndefined();
    expect(pkg.peerDependencies).toBeUndefined();
    const exports = pkg.exports as Record<string, { types: string; default: string }>;
    expect(exports["."]).toEqual({ types: "./dist/types/client/index.d.ts", default: "./dist/sms-ws-client.js" });
    expect(existsSync(join(PKG, "README.md"))).toBe(true);
  });

  it("ships declarations whose imports all resolve inside the package (after npm run build)", () => {
    const types = join(PKG, "dist/types");
    if (!existsSync(types)) execFileSync("npm", ["run", "-s", "build"], { cwd: ROOT });
    const files = (function walk(dir: string): string[] {
      return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
    })(types);
    expect(files).toContain(join(types, "client/index.d.ts"));
    for (const file of files) {
      for (const m of readFileSync(file, "utf8").matchAll(/\bfrom\s+"([^"]+)"/g)) {
        const spec = m[1] as string;
        expect(spec, `${relative(PKG, file)} imports ${spec}`).toMatch(/^\.\.?\//);
        expect(existsSync(resolve(dirname(file), spec.replace(/\.js$/, ".d.ts"))), `${relative(PKG, file)} -> ${spec}`).toBe(true);
      }
    }
  });

  it("is the very file the developer console serves (after npm run build)", () => {
    const served = join(ROOT, "dist/console/sms-ws-client.js");
    if (!existsSync(served)) execFileSync("npm", ["run", "-s", "build"], { cwd: ROOT });
    expect(readFileSync(served).equals(readFileSync(BUNDLE))).toBe(true);
  });
});
