/**
 * Descriptor exhaustion (security-probe V-5) on a real `sms-ws serve` process under
 * `ulimit -n 1024`: one client opens 1 200 connections that never finish a request. Without the
 * accept guard (src/server/accept-guard.ts) the node spun at ~95 % CPU on EMFILE until uWS
 * dropped the connections. With it: the listener closes, the node stays idle, a socket that was
 * already open keeps receiving events, and once uWS has dropped the silent connections the node
 * listens again and a new client gets auth_ok; the metrics tell the story.
 */
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishEvent } from "../../src/publisher/index.js";
import { freePort } from "../../src/dev/embedded-nats.js";
import { TestClient } from "../helpers/client.js";
import { startProducer, startTestNats, type Producer, type TestNats } from "../helpers/harness.js";
import { readyzOf, scrapeMetric, startNodeProcess, type NodeProcess } from "../helpers/node-process.js";
import { pollUntil } from "../helpers/poll.js";
import { cpuShare, silentFlood } from "../helpers/silent-flood.js";

const NOFILE = 1024;
const FLOOD = 1200;

let nats: TestNats;
let producer: Producer;
let serve: NodeProcess | undefined;

beforeAll(async () => {
  nats = await startTestNats();
  producer = await startProducer(nats);
});

afterAll(async () => {
  serve?.child.kill("SIGKILL");
  await producer?.close();
  await nats?.stop();
});

/** Whether a TCP connection to the port is accepted or refused (the listener is closed). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "ECONNREFUSED"));
  });
}

describe("descriptor exhaustion", () => {
  it("the node stops accepting instead of spinning, keeps its sockets, and recovers", async () => {
    const key = await producer.key({ role: "app", tenantId: "Tfd", appId: "Afd" });
    const metricsPort = await freePort();
    serve = await startNodeProcess(nats.url, { ...nats.nodeEnv(), METRICS_PORT: String(metricsPort) }, { nofile: NOFILE });
    const pid = serve.child.pid!;
    expect(await scrapeMetric(metricsPort, "smsws_fd_limit")).toBe(NOFILE);
    const inFlight = await TestClient.authed(serve.url, key);

    const flood = silentFlood(serve.port, FLOOD);
    try {
      await pollUntil(() => serve!.lines.some((l) => l.msg.startsWith("descriptors near the limit")), 10_000, "the accept guard to pause");
      const cpu = await cpuShare(pid, 2000);
      // Paused: the kernel refuses new connections; readiness would say so if reachable. Closing
      // the listener frees a descriptor, so the metrics port still answers.
      expect(await refused(serve.port)).toBe(true);
      expect(await scrapeMetric(metricsPort, "smsws_accept_paused")).toBe(1);
      expect(await scrapeMetric(metricsPort, "smsws_open_fds")).toBeGreaterThanOrEqual(NOFILE * 0.9);
      // The open socket still gets its events while the flood holds its connections.
      await publishEvent(producer.nc, { type: "sms_status", eventId: "during-flood", messageId: "m", tenantId: "Tfd", appId: "Afd", status: "sent" });
      await inFlight.waitForEvents(1);
      console.log(`[fd-exhaustion] ${flood.connected} of ${FLOOD} flood connections accepted; node CPU while paused ${(cpu * 100).toFixed(1)} %`);
      expect(flood.connected).toBeGreaterThan(NOFILE * 0.9);
      expect(cpu).toBeLessThan(0.2);

      // uWS drops the unfinished requests after its idle timeout (~10 s); the node listens again.
      let client: TestClient | undefined;
      await pollUntil(
        async () => (client = await TestClient.authed(serve!.url, key).catch(() => undefined)) !== undefined,
        30_000,
        "a new client's auth_ok",
        250,
      );
      client!.close();
      expect(await readyzOf(serve.http)).toEqual({ status: 200, reasons: [] });
      expect(await scrapeMetric(metricsPort, "smsws_accept_pauses_total")).toBeGreaterThanOrEqual(1);
      expect(await scrapeMetric(metricsPort, "smsws_accept_paused")).toBe(0);
      expect(await scrapeMetric(metricsPort, "smsws_open_fds")).toBeLessThan(NOFILE * 0.7);
      expect(inFlight.closed).toBeUndefined();
      inFlight.close();
    } finally {
      flood.close();
    }
  }, 60_000);
});
