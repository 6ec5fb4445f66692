#!/usr/bin/env node
/**
 * The "new user" check of the developer console, end to end: runs `sms-ws dev --simulate` (what
 * `npm start` runs) on free ports, opens the console link it prints in headless Chromium, waits
 * for live events, opens a message's timeline and a conversation, and saves screenshots to
 * .tmp/screenshots/ (docs/console.png is one of them). Needs a build and /usr/bin/chromium
 * (or CHROMIUM=path).
 *
 *   npm run -s build && node scripts/console-demo.mjs [--docs]   # --docs also writes docs/console.png
 */
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { chromium } from "playwright-core";

const CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
const OUT = ".tmp/screenshots";

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const port = await freePort();
const dev = spawn(process.execPath, ["dist/cli/main.js", "dev", "--simulate"], {
  env: { ...process.env, PORT: String(port), METRICS_PORT: "0", LOG_LEVEL: "warn" },
  stdio: ["ignore", "pipe", "inherit"],
});
let printed = "";
const consoleUrl = await new Promise((resolve, reject) => {
  const deadline = setTimeout(() => reject(new Error(`no console link printed:\n${printed}`)), 30_000);
  dev.stdout.on("data", (chunk) => {
    printed += chunk;
    const m = /console:\s+(\S+#token=\S+)/.exec(printed);
    if (m) {
      clearTimeout(deadline);
      resolve(m[1]);
    }
  });
  dev.once("exit", (code) => reject(new Error(`sms-ws dev exited with ${code}:\n${printed}`)));
});

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
try {
  mkdirSync(OUT, { recursive: true });
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
  const problems = [];
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(String(e)));
  await page.goto(consoleUrl.replace("localhost", "127.0.0.1"));
  await page.waitForSelector('#state[data-state="live"]', { timeout: 15_000 });
  // The simulation sends an event every ~2 s: wait for a few statuses and two inbound texts.
  await page.waitForFunction(() => document.querySelectorAll("#feed-body tr").length >= 12, null, { timeout: 60_000 });
  await page.waitForFunction(() => document.querySelectorAll('#feed-body tr[data-type="sms_inbound"]').length >= 2, null, { timeout: 90_000 });
  const statusRow = page.locator('#feed-body tr[data-type="sms_status"]').nth(3);
  await statusRow.locator("button").click();
  await page.waitForFunction(() => document.querySelectorAll("#timeline li").length >= 2, null, { timeout: 10_000 });
  await page.locator("#numbers button").first().click();
  await page.waitForSelector("#conversation li");
  await page.screenshot({ path: `${OUT}/console-dev.png` });
  const summary = {
    state: await page.textContent("#state"),
    rows: await page.locator("#feed-body tr").count(),
    timeline: await page.textContent("#timeline-summary"),
    conversation: await page.textContent("#conversation-heading"),
    problems,
  };
  console.log(JSON.stringify(summary, null, 2));
  if (process.argv.includes("--docs")) copyFileSync(`${OUT}/console-dev.png`, "docs/console.png");
  if (problems.length > 0) process.exitCode = 1;
} finally {
  await browser.close();
  dev.kill("SIGTERM");
}
