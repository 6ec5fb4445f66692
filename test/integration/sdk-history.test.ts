import { jetstreamManager } from "@nats-io/jetstream";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBucket } from "../../src/bus/buckets.js";
import { createClient, type BackfillResult, type SmsEvent, type SmsWsError } from "../../src/client/index.js";
import { publishEvent } from "../../src/publisher/index.js";
import { createConnectionToken } from "../../src/tokens/mint-token.js";
import { createSigner } from "../../src/tokens/signer-admin.js";
import { startProducer, startTestNats, startTestNode, type Producer, type TestNats, type TestNode } from "../helpers/harness.js";
import { pollUntil } from "../helpers/poll.js";

let nats: TestNats;
let node: TestNode;
let producer: Producer;

beforeAll(async () => {
  nats = await startTestNats();
  node = await startTestNode(nats);
  producer = await startProducer(nats);
});

afterAll(async () => {
  await node?.stop();
  await producer?.close();
  await nats?.stop();
});

const status = (t: string, a: string, id: string, s = "sent") => publishEvent(producer.nc, { type: "sms_status", messageId: id, tenantId: t, appId: a, status: s });

describe("SDK history", () => {
  it("reads pages with an API key client and a getToken client (a token per request)", async () => {
    const key = await producer.key({ role: "app", tenantId: "Gt", appId: "Ga" });
    for (let i = 0; i < 5; i++) await status("Gt", "Ga", `g${i}`, i % 2 === 0 ? "failed" : "sent");
    const client = createClient({ url: node.url, apiKey: key, WebSocket: WebSocket as never });
    const newest = await client.history({ limit: 2 });
    expect(newest.events.map((e) => e.messageId)).toEqual(["g3", "g4"]);
    const first = await client.history({ since: new Date(0), limit: 2, filter: { statuses: ["failed"] } });
    expect(first.events.map((e) => e.messageId)).toEqual(["g0", "g2"]);
    const second = await client.history({ after: first.next as string, limit: 2, filter: { statuses: ["failed"] } });
    expect(second.events.map((e) => e.messageId)).toEqual(["g4"]);
    await expect(client.history({ limit: 5000 })).rejects.toMatchObject({ code: "HISTORY_FAILED", httpStatus: 400 });
    client.close();

    const kv = await openBucket(producer.admin, "sms_token_signers");
    const signer = await createSigner(kv, { tenantId: "Gt", appId: "Ga" });
    let minted = 0;
    const getToken = (): string => {
      minted++;
      return createConnectionToken({ privateKey: signer.privateKeyPem, kid: signer.kid, tenantId: "Gt", appId: "Ga", ttlSeconds: 600 });
    };
    await pollUntil(async () => (await fetch(`${node.http}/v1/events`, { headers: { authorization: `Bearer ${getToken()}` } })).status === 200, 5000, "the signer");
    const byToken = createClient({ url: node.url, getToken, WebSocket: WebSocket as never });
    const before = minted;
    const page = await byToken.history({ limit: 5 });
    expect(page.events).toHaveLength(5);
    expect(minted).toBeGreaterThan(before);
    byToken.close();
  });

  it("backfills after resume_failed (retention) and reports exactly what was lost", async () => {
    const key = await producer.key({ role: "app", tenantId: "Bt", appId: "Ba" });
    const seen = await status("Bt", "Ba", "b-seen");
    const epoch = new Date((await (await jetstreamManager(producer.admin)).streams.info("SMS_EVENTS")).created).toISOString();
    await status("Bt", "Ba", "b-lost");
    const firstKept = await status("Bt", "Ba", "b-kept-1");
    const jsm = await jetstreamManager(producer.admin);
    await jsm.streams.update("SMS_EVENTS", { max_msgs: 1 });
    await jsm.streams.update("SMS_EVENTS", { max_msgs: -1 });
    await status("Bt", "Bother", "not-mine");
    await status("Bt", "Ba", "b-kept-2");

    const events: SmsEvent[] = [];
    const results: BackfillResult[] = [];
    const errors: SmsWsError[] = [];
    const client = createClient({ url: node.url, apiKey: key, WebSocket: WebSocket as never, resumeFrom: { epoch, seq: seen.seq as number }, backfill: true });
    client.on("event", (e) => events.push(e));
    client.on("backfilled", (r) => results.push(r));
    client.on("error", (e) => errors.push(e));
    await pollUntil(() => results.length === 1, 10_000, "the backfill");
    await status("Bt", "Ba", "b-live");
    await pollUntil(() => events.some((e) => e.messageId === "b-live"), 5000, "the live event");
    expect(events.map((e) => e.messageId)).toEqual(["b-kept-1", "b-kept-2", "b-live"]);
    expect(results[0]).toEqual({ from: { epoch, seq: seen.seq }, recovered: 2, lostBefore: { epoch, seq: firstKept.seq } });
    expect(errors).toEqual([]);
    client.close();
  });
});
