/**
 * The developer console (README.md, "Developer console"): a static browser app under /console,
 * served only with CONSOLE_ENABLED. The files are read once, at start-up, from dist/console
 * (built by `npm run build`) into memory; a request names one of them exactly or gets 404, so no
 * part of a request path ever reaches the file system and there is no traversal to defend.
 *
 * The console holds no credential: the user types one (or `sms-ws dev` puts it in the URL
 * fragment, which browsers never send). Every answer carries a strict Content-Security-Policy:
 * scripts and styles from this origin only (the page has no inline script or style), and sockets
 * and fetches (history) to this origin only (`connect-src 'self'`, which covers ws:/wss: to the
 * page's own host): the console has no reason to reach any other endpoint, and a page tricked
 * into it would hand that endpoint the credential typed in.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { HttpRequest, HttpResponse, TemplatedApp } from "uWebSockets.js";

/**
 * `<package root>/dist/console/`: the same path from src/server (tests run the sources) and
 * from dist/server (the built node, the image), since both sit two levels below the root.
 */
export const CONSOLE_ASSETS_DIR = fileURLToPath(new URL("../../dist/console/", import.meta.url));

export const CONSOLE_PATH = "/console";

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
};

/** Names a request may ask for: one path segment, no leading dot. */
const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS: readonly (readonly [string, string])[] = [
  ["content-security-policy", CONSOLE_CSP],
  ["x-content-type-options", "nosniff"],
  ["referrer-policy", "no-referrer"],
  ["cross-origin-opener-policy", "same-origin"],
];

export interface ConsoleAsset {
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

export type ConsoleAssets = ReadonlyMap<string, ConsoleAsset>;

/** Reads the console's files; throws (naming the directory) when the build did not make them. */
export function loadConsoleAssets(dir: string = CONSOLE_ASSETS_DIR): ConsoleAssets {
  const assets = new Map<string, ConsoleAsset>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    names = [];
  }
  for (const name of names) {
    const contentType = CONTENT_TYPES[extname(name)];
    const path = join(dir, name);
    if (contentType === undefined || !ASSET_NAME.test(name) || !statSync(path).isFile()) continue;
    const body = readFileSync(path);
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
    assets.set(name, Object.freeze({ body, contentType, etag }));
  }
  if (!assets.has("index.html")) {
    throw new Error(`CONSOLE_ENABLED=true but the console is not built (no ${join(dir, "index.html")}): run \`npm run build\``);
  }
  return assets;
}

export interface ConsoleAnswer {
  readonly status: "200 OK" | "304 Not Modified" | "404 Not Found";
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer | string;
}

/** What GET `url` answers (a plain function: tested without a server). */
export function consoleAnswer(assets: ConsoleAssets, url: string, ifNoneMatch: string): ConsoleAnswer {
  const name = assetName(url);
  const asset = name === undefined ? undefined : assets.get(name);
  if (asset === undefined) {
    return { status: "404 Not Found", headers: [...SECURITY_HEADERS, ["content-type", "text/plain; charset=utf-8"], ["cache-control", "no-store"]], body: "not found" };
  }
  // Stable file names across versions: browsers revalidate every time (a 304 costs no body).
  const headers = [...SECURITY_HEADERS, ["cache-control", "no-cache"], ["etag", asset.etag]] as const;
  if (ifNoneMatch !== "" && ifNoneMatch.split(",").some((tag) => tag.trim() === asset.etag)) {
    return { status: "304 Not Modified", headers, body: "" };
  }
  return { status: "200 OK", headers: [...headers, ["content-type", asset.contentType]], body: asset.body };
}

/** `/console` and `/console/` are the page; `/console/<name>` a file; anything else none. */
function assetName(url: string): string | undefined {
  if (url === CONSOLE_PATH || url === `${CONSOLE_PATH}/`) return "index.html";
  if (!url.startsWith(`${CONSOLE_PATH}/`)) return undefined;
  const name = url.slice(CONSOLE_PATH.length + 1);
  return ASSET_NAME.test(name) ? name : undefined;
}

/** Registers GET /console and /console/<file> on the node's uWS app. */
export function serveConsole(app: TemplatedApp, assets: ConsoleAssets): void {
  const handler = (res: HttpResponse, req: HttpRequest): void => {
    // uWS invalidates req when the handler returns: read everything from it first.
    const answer = consoleAnswer(assets, req.getUrl(), req.getHeader("if-none-match"));
    res.cork(() => {
      res.writeStatus(answer.status);
      for (const [name, value] of answer.headers) res.writeHeader(name, value);
      res.end(answer.body);
    });
  };
  app.get(CONSOLE_PATH, handler);
  app.get(`${CONSOLE_PATH}/*`, handler);
}
