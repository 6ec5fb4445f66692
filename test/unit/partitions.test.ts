import { describe, expect, it } from "vitest";
import { fnv1a32, partitionIndex, partitionMapping, Partitions, renderMappings } from "../../src/bus/partitions.js";
import { renderAuthorization } from "../../src/bus/nats-accounts.js";
import { permissionMatrix, permits, PERMISSIONS } from "../../src/bus/permissions.js";
import { epochOf, streamConfig } from "../../src/bus/stream.js";
import { parseAuthMessage } from "../../src/protocol/client-messages.js";
import { parseHistoryQuery, partitionOfEpoch } from "../../src/protocol/history-query.js";
import { loadConfig } from "../../src/config/config.js";
import type { StreamInfo } from "@nats-io/jetstream";

const utf8 = (s: string): ArrayBuffer => new TextEncoder().encode(s).buffer as ArrayBuffer;

describe("partitions", () => {
  it("hashes like Go's hash/fnv New32a (known vectors)", () => {
    expect(fnv1a32("")).toBe(0x811c9dc5);
    expect(fnv1a32("a")).toBe(0xe40c292c);
    expect(fnv1a32("foobar")).toBe(0xbf9cf968);
    expect(partitionIndex("anything", 1)).toBe(0);
  });

  it("K=1 is the single stream SMS_EVENTS exactly as before, with no mapping", () => {
    const [p] = new Partitions(1).all;
    const config = loadConfig({});
    expect(config.streamPartitions).toBe(1);
    expect(streamConfig(config, p)).toEqual(streamConfig(config));
    expect(streamConfig(config)).toMatchObject({ name: "SMS_EVENTS", subjects: ["in.sms.>"], republish: { src: "in.sms.>", dest: "sms.>" } });
    expect(partitionMapping(1)).toBeUndefined();
    expect(renderMappings(1)).toBe("");
    expect(permissionMatrix({ partitions: 1 })).toEqual(PERMISSIONS);
    expect(epochOf({ created: "2025-01-31T12:00:00Z" } as StreamInfo)).toBe("2025-01-31T12:00:00.000Z");
  });

  it("K>1: streams, mapping, epochs, grants", () => {
    const parts = new Partitions(4);
    expect(parts.all.map((p) => p.stream)).toEqual(["SMS_EVENTS_0", "SMS_EVENTS_1", "SMS_EVENTS_2", "SMS_EVENTS_3"]);
    expect(renderMappings(4)).toContain('"in.sms.*.*.*": "in.sms.{{partition(4,1)}}.{{wildcard(1)}}.{{wildcard(2)}}.{{wildcard(3)}}"');
    const epoch = epochOf({ created: "2025-01-31T12:00:00Z" } as StreamInfo, parts.all[2]);
    expect(epoch).toBe("p2/4@2025-01-31T12:00:00.000Z");
    expect(partitionOfEpoch(epoch, 4)).toBe(2);
    expect(partitionOfEpoch(epoch, 8)).toBeUndefined();
    expect(partitionOfEpoch("2025-01-31T12:00:00.000Z", 4)).toBeUndefined();
    const m = permissionMatrix({ partitions: 4 });
    for (const s of ["SMS_EVENTS_0", "SMS_EVENTS_3"]) {
      expect(permits(m.gateway.publish, `$JS.API.STREAM.INFO.${s}`)).toBe(true);
      expect(permits(m.gateway.publish, `$JS.API.CONSUMER.CREATE.${s}`)).toBe(true);
      expect(permits(m.gateway.publish, `$JS.API.CONSUMER.CREATE.${s}.x.in.sms.1.t.a.*`)).toBe(false);
      expect(permits(m.gateway.publish, `$JS.API.STREAM.CREATE.${s}`)).toBe(false);
      expect(permits(m.admin.publish, `$JS.API.STREAM.CREATE.${s}`)).toBe(true);
      expect(permits(m.admin.publish, `$JS.API.STREAM.DELETE.${s}`)).toBe(false);
    }
    expect(permits(m.gateway.publish, "$JS.API.STREAM.INFO.SMS_EVENTS_4")).toBe(false);
    expect(renderAuthorization({ matrix: m })).toContain('"$JS.API.CONSUMER.MSG.NEXT.SMS_EVENTS_3.*"');
  });

  it("parses resume positions and the history partition parameter", () => {
    const auth = parseAuthMessage(utf8(JSON.stringify({ type: "auth", apiKey: "k", resume: { positions: [{ epoch: "p0/2@x", seq: 3 }, { epoch: "p1/2@x", seq: 0 }] } })), false);
    expect(auth.resume).toEqual({ positions: [{ epoch: "p0/2@x", seq: 3 }, { epoch: "p1/2@x", seq: 0 }] });
    expect(() => parseAuthMessage(utf8(JSON.stringify({ type: "auth", apiKey: "k", resume: { positions: [] } })), false)).toThrow(/positions/);
    expect(() => parseAuthMessage(utf8(JSON.stringify({ type: "auth", apiKey: "k", resume: { positions: [{ epoch: "e", seq: -1 }] } })), false)).toThrow(/seq/);
    expect(parseHistoryQuery("partition=3").partition).toBe(3);
    expect(() => parseHistoryQuery("partition=x")).toThrow(/partition/);
  });
});
