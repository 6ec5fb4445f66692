/**
 * Headless Chromium for the console's browser tests: Debian's /usr/bin/chromium (or CHROMIUM),
 * driven by playwright-core; never a browser download. Screenshots go to .tmp/screenshots/.
 */
import { mkdirSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";

export const SCREENSHOTS = ".tmp/screenshots";

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

/** Page errors and console errors, collected: a test ends by expecting none. */
export function pageProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`pageerror: ${String(error)}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  return problems;
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage: true });
}

/** Event ids of the rows in the console's feed table, top to bottom. */
export function feedEventIds(page: Page): Promise<string[]> {
  return page.$$eval("#feed-body tr", (rows) => rows.map((r) => r.getAttribute("data-event-id") ?? ""));
}
