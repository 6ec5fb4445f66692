/**
 * `npm start` (`sms-ws dev`) prints links to the developer console with the credential in the
 * URL fragment, never in a query string and never the admin key, and the console answers there.
 */
import { spawn } from "node:child_process";
import { expect, it } from "vitest";
import { pollUntil } from "../helpers/poll.js";

const CLI = new URL("../../dist/cli/main.js", import.meta.url).pathname;

it("sms-ws dev prints console links with the token and the app key in the fragment", async () => {
  const dev = spawn(process.execPath, [CLI, "dev"], {
    env: { ...process.env, PORT: "0", METRICS_PORT: "0", LOG_LEVEL: "warn", NATS_URL: "" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<number | null>((resolve) => dev.once("exit", (code) => resolve(code)));
  let out = "";
  dev.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  try {
    await pollUntil(() => /Ctrl-C/.test(out), 30_000, "sms-ws dev to print its summary");
    const adminKey = /admin key[^:]*:\s+(\S+)/.exec(out)?.[1] as string;
    const appKey = /app key[^:]*:\s+(\S+)/.exec(out)?.[1] as string;
    const links = [...out.matchAll(/(http:\/\/localhost:\d+\/console\S*)/g)].map((m) => m[1] as string);
    expect(links).toHaveLength(2);
    expect(links[0]).toMatch(/\/console#token=[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(links[1]).toBe(`${links[0]?.split("#")[0]}#key=${appKey}`);
    for (const link of links) {
      expect(link).not.toContain("?");
      expect(link).not.toContain(adminKey);
    }
    const page = await fetch((links[0] as string).split("#")[0]!.replace("localhost", "127.0.0.1"));
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("sms-ws developer console");
  } finally {
    dev.kill("SIGTERM");
    expect(await exited).toBe(0);
  }
});
