/**
 * A realistic trickle for `sms-ws dev --simulate`: outbound messages walk queued -> sending ->
 * sent (or failed), and now and then an inbound SMS arrives, published on the durable path.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { randomBytes } from "node:crypto";
import { publishSmsInbound, publishSmsStatus, type PublishOptions } from "../publisher/index.js";

export interface SimulationTarget {
  tenantId: string;
  appId: string;
}

const replies = ["Yes, I confirm", "STOP", "Can we move it to 3pm?", "Thanks!", "Who is this?"];

function messageId(): string {
  return `msg_${randomBytes(6).toString("hex")}`;
}

function phone(): string {
  return `+1555${String(Math.floor(Math.random() * 10_000_000)).padStart(7, "0")}`;
}

/** A few customers who write more than once, so the console shows real conversations. */
const SENDERS = 4;

/** Start the trickle; returns a function that stops it. */
export function startSimulation(
  nc: NatsConnection,
  target: SimulationTarget,
  log: Logger,
  options: PublishOptions & { intervalMs?: number } = {},
): () => void {
  const senders = Array.from({ length: SENDERS }, phone);
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      if (!stopped) fn();
    }, ms);
    timers.add(t);
  };
  const report = (err: unknown): void => log.warn({ err }, "simulated publish failed");
  const status = (id: string, s: string, extra: { rcMessageId?: string; error?: string } = {}): void => {
    publishSmsStatus(nc, { messageId: id, appId: target.appId, tenantId: target.tenantId, status: s, ...extra }, options).catch(report);
  };
  const outbound = (): void => {
    const id = messageId();
    status(id, "queued");
    later(300, () => status(id, "sending"));
    later(900, () =>
      Math.random() < 0.85
        ? status(id, "sent", { rcMessageId: String(100_000_000 + Math.floor(Math.random() * 900_000_000)) })
        : status(id, "failed", { error: "RingCentral not connected for this tenant" }),
    );
  };
  const inbound = (): void => {
    const tenantWide = Math.random() < 0.3;
    publishSmsInbound(
      nc,
      {
        messageId: messageId(),
        from: senders[Math.floor(Math.random() * senders.length)] as string,
        to: "+15551234567",
        body: replies[Math.floor(Math.random() * replies.length)] as string,
        tenantId: target.tenantId,
        ...(tenantWide ? {} : { appId: target.appId }),
      },
      options,
    ).catch(report);
  };
  const interval = setInterval(() => (Math.random() < 0.75 ? outbound() : inbound()), options.intervalMs ?? 2000);
  return () => {
    stopped = true;
    clearInterval(interval);
    for (const t of timers) clearTimeout(t);
  };
}
