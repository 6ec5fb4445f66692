import { describe, expect, it } from "vitest";
import { fnv1a32 as serverFnv, partitionIndex as serverPartitionOf } from "../../../src/bus/partitions.js";
import { parseServerFrame } from "../../../src/client/frames.js";
import { resolveOptions } from "../../../src/client/options.js";
import { fnv1a32, partitionOf } from "../../../src/client/partitions.js";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/** Deterministic tenant ids of every length 1..64 over the tenant alphabet, plus odd inputs. */
function tenantIds(count: number): string[] {
  let x = 0x9e3779b9;
  const next = (): number => (x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0);
  const out = ["", "T1", "tenant-1", "héllo", "😀", "\u0000"];
  for (let i = 0; i < count; i++) {
    const length = 1 + (next() % 64);
    out.push(Array.from({ length }, () => ALPHABET[next() % ALPHABET.length]).join(""));
  }
  return out;
}

describe("the SDK's partition hash", () => {
  it("is the server's fnv1a32 and partition for 20000 tenant ids and K = 1..1024", () => {
    const ids = tenantIds(20_000);
    for (const id of ids) expect(fnv1a32(id)).toBe(serverFnv(id));
    for (const k of [1, 2, 3, 4, 7, 16, 64, 1000, 1024]) {
      for (const id of ids.slice(0, 2000)) expect(partitionOf(id, k)).toBe(serverPartitionOf(id, k));
    }
  });

  it("matches FNV-1a 32 reference values", () => {
    expect(fnv1a32("")).toBe(0x811c9dc5);
    expect(fnv1a32("a")).toBe(0xe40c292c);
    expect(fnv1a32("foobar")).toBe(0xbf9cf968);
  });
});

describe("positions in frames and options", () => {
  it("reads epochs from auth_ok only when every entry is a non-empty string, up to 1024", () => {
    expect(parseServerFrame('{"type":"auth_ok","epochs":["p0/2@x","p1/2@x"]}')).toEqual({ type: "auth_ok", epochs: ["p0/2@x", "p1/2@x"] });
    expect(parseServerFrame('{"type":"auth_ok","epochs":["p0/2@x",""]}')).toEqual({ type: "auth_ok" });
    expect(parseServerFrame('{"type":"auth_ok","epochs":["p0/2@x",3]}')).toEqual({ type: "auth_ok" });
    expect(parseServerFrame('{"type":"auth_ok","epochs":[]}')).toEqual({ type: "auth_ok" });
    expect(parseServerFrame(JSON.stringify({ type: "auth_ok", epochs: Array.from({ length: 1025 }, (_, i) => `p${i}`) }))).toEqual({ type: "auth_ok" });
  });

  it("accepts resumeFrom as one position or a list, and refuses a bad list", () => {
    const base = { url: "ws://h.test/ws", apiKey: "K", WebSocket: class {} as never };
    expect(resolveOptions({ ...base, resumeFrom: { epoch: "E", seq: 1 } }).resumeFrom).toEqual([{ epoch: "E", seq: 1 }]);
    const list = [{ epoch: "p0/2@x", seq: 1 }, { epoch: "p1/2@x", seq: 0 }];
    expect(resolveOptions({ ...base, resumeFrom: list }).resumeFrom).toEqual(list);
    for (const bad of [[], [{ epoch: "", seq: 1 }], [{ epoch: "E", seq: -1 }], [{ epoch: "E", seq: 1 }, null], Array.from({ length: 1025 }, () => ({ epoch: "E", seq: 1 }))]) {
      expect(() => resolveOptions({ ...base, resumeFrom: bad as never })).toThrow(/resumeFrom/);
    }
  });
});
