/**
 * The gateway's consumer creations go to the legacy subject `$JS.API.CONSUMER.CREATE.<stream>`
 * (src/bus/nats-connection.ts; the server refuses a durable name there). Only the subject
 * changes; every other request passes through untouched. The integration tests prove it on real
 * servers (test/integration/nats-reply-subjects.test.ts, W-6).
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { useLegacyConsumerCreate } from "../../src/bus/nats-connection.js";

function recorder(): { nc: NatsConnection; subjects: string[] } {
  const subjects: string[] = [];
  const nc = { request: (subject: string) => (subjects.push(subject), Promise.resolve(undefined)) } as unknown as NatsConnection;
  return { nc, subjects };
}

describe("useLegacyConsumerCreate", () => {
  it("sends the named create forms to the legacy subject, and nothing else changes", async () => {
    const { nc, subjects } = recorder();
    useLegacyConsumerCreate(nc);
    for (const s of [
      "$JS.API.CONSUMER.CREATE.SMS_EVENTS.oc_1",
      "$JS.API.CONSUMER.CREATE.SMS_EVENTS.oc_1.in.sms.t.a.*",
      "$JS.API.CONSUMER.CREATE.KV_sms_api_keys.KV_WATCHER_x.$KV.sms_api_keys.>",
      "$JS.API.CONSUMER.CREATE.SMS_EVENTS",
      "$JS.API.CONSUMER.DURABLE.CREATE.SMS_EVENTS.d",
      "$JS.API.CONSUMER.INFO.SMS_EVENTS.oc_1",
      "$JS.API.STREAM.INFO.SMS_EVENTS",
      "sms-ws.fleet.counts.N1",
    ]) {
      await nc.request(s);
    }
    expect(subjects).toEqual([
      "$JS.API.CONSUMER.CREATE.SMS_EVENTS",
      "$JS.API.CONSUMER.CREATE.SMS_EVENTS",
      "$JS.API.CONSUMER.CREATE.KV_sms_api_keys",
      "$JS.API.CONSUMER.CREATE.SMS_EVENTS",
      "$JS.API.CONSUMER.DURABLE.CREATE.SMS_EVENTS.d",
      "$JS.API.CONSUMER.INFO.SMS_EVENTS.oc_1",
      "$JS.API.STREAM.INFO.SMS_EVENTS",
      "sms-ws.fleet.counts.N1",
    ]);
  });
});
