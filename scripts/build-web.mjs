#!/usr/bin/env node
/**
 * The browser builds; `npm run build` runs this after tsc.
 *
 *   1. The SDK as a package (packages/client, README there): dist/sms-ws-client.js, one ES module
 *      with no imports, bundled by esbuild from src/client; dist/sms-ws-client.min.js; and
 *      dist/types/, tsc's declarations of dist/client plus every file they import (the event
 *      shapes live in src/events), at the same relative paths.
 *   2. The developer console, dist/console/: app.js bundled from src/console with the SDK left
 *      out (it imports ./sms-ws-client.js, the very bundle of step 1, copied beside it), plus
 *      index.html and console.css.
 *
 * `node scripts/build-web.mjs bundle` makes only the two SDK bundles (from src, no tsc needed;
 * the size test uses it on a tree that was never built).
 */
import { build } from "esbuild";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PACKAGE = join(ROOT, "packages/client");
const PACKAGE_DIST = join(PACKAGE, "dist");
const CONSOLE_SRC = join(ROOT, "src/console");
const CONSOLE_DIST = join(ROOT, "dist/console");
export const SDK_BUNDLE = "sms-ws-client.js";

const version = JSON.parse(readFileSync(join(PACKAGE, "package.json"), "utf8")).version;

async function bundleSdk() {
  const common = {
    entryPoints: [join(ROOT, "src/client/index.ts")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    sourcemap: true,
    legalComments: "none",
    banner: { js: `/* @sms-ws/client ${version}: WebSocket client of sms-ws-gateway. No dependencies. */` },
    logLevel: "warning",
  };
  await build({ ...common, outfile: join(PACKAGE_DIST, SDK_BUNDLE) });
  await build({ ...common, minify: true, outfile: join(PACKAGE_DIST, SDK_BUNDLE.replace(/\.js$/, ".min.js")) });
}

/** Copies dist/client/index.d.ts and every declaration it imports, transitively. */
function copyTypes() {
  const distRoot = join(ROOT, "dist");
  const entry = join(distRoot, "client/index.d.ts");
  if (!existsSync(entry)) throw new Error(`no ${relative(ROOT, entry)}: run tsc first (npm run build)`);
  const out = join(PACKAGE_DIST, "types");
  rmSync(out, { recursive: true, force: true });
  const pending = [entry];
  const seen = new Set();
  while (pending.length > 0) {
    const file = pending.pop();
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/\bfrom\s+"(\.{1,2}\/[^"]+)\.js"/g)) pending.push(resolve(dirname(file), `${m[1]}.d.ts`));
    const target = join(out, relative(distRoot, file));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, text);
  }
}

async function buildConsole() {
  rmSync(CONSOLE_DIST, { recursive: true, force: true });
  mkdirSync(CONSOLE_DIST, { recursive: true });
  await build({
    entryPoints: [join(CONSOLE_SRC, "app.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    sourcemap: true,
    legalComments: "none",
    outfile: join(CONSOLE_DIST, "app.js"),
    logLevel: "warning",
    plugins: [
      {
        // The console's imports of the SDK become the served bundle: the page loads exactly the
        // file a tenant installs, not a second copy compiled into app.js.
        name: "sdk-bundle",
        setup(b) {
          b.onResolve({ filter: /\/client\/index\.js$/ }, () => ({ path: `./${SDK_BUNDLE}`, external: true }));
        },
      },
    ],
  });
  for (const name of ["index.html", "console.css"]) copyFileSync(join(CONSOLE_SRC, name), join(CONSOLE_DIST, name));
  for (const name of [SDK_BUNDLE, `${SDK_BUNDLE}.map`]) copyFileSync(join(PACKAGE_DIST, name), join(CONSOLE_DIST, name));
}

const only = process.argv[2];
await bundleSdk();
if (only !== "bundle") {
  copyTypes();
  await buildConsole();
}
