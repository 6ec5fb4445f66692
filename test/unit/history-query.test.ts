import { describe, expect, it } from "vitest";
import { authenticateBearer } from "../../src/protocol/bearer.js";
import { bearerCredential, formatCursor, HistoryQueryError, parseCursor, parseHistoryQuery, parseRfc3339, parseStreamQuery } from "../../src/protocol/history-query.js";
import { parseAuthMessage } from "../../src/protocol/client-messages.js";
import { sseCloseFrame, sseEvent, sseRetryFrame } from "../../src/protocol/sse-frames.js";
import { Refusals } from "../../src/protocol/refusal.js";
import { corsFor } from "../../src/server/cors.js";
import { RateLimit } from "../../src/server/rate-limit.js";
import { int, pick, seededRandom } from "../helpers/random.js";

const EPOCH = "2025-01-31T12:00:00.123Z";

function refused(fn: () => unknown): HistoryQueryError {
  try {
    fn();
  } catch (err) {
    if (err instanceof HistoryQueryError) return err;
    throw err;
  }
  throw new Error("not refused");
}

describe("history query", () => {
  it("reads positions, limits and filters", () => {
    expect(parseHistoryQuery("")).toMatchObject({ position: { type: "newest" }, limit: 100 });
    expect(parseHistoryQuery(`after=${encodeURIComponent(`${EPOCH}:42`)}&limit=1000`)).toMatchObject({ position: { type: "after", cursor: { epoch: EPOCH, seq: 42 } }, limit: 1000 });
    expect(parseHistoryQuery("since=2025-01-31T12:00:00%2B01:00").position).toEqual({ type: "since", timeMs: Date.parse("2025-01-31T11:00:00Z") });
    const q = parseHistoryQuery("types=sms_status&statuses=failed,undelivered&messageIds=m1,m2");
    expect([...(q.filter.types ?? [])]).toEqual(["sms_status"]);
    expect([...(q.filter.statuses ?? [])]).toEqual(["failed", "undelivered"]);
    expect([...(q.filter.messageIds ?? [])]).toEqual(["m1", "m2"]);
  });

  it("names the parameter at fault", () => {
    const cases: [string, string][] = [
      ["after=x", "after"],
      [`after=${EPOCH}:`, "after"],
      [`after=:1`, "after"],
      ["since=2025-13-01T00:00:00Z", "since"],
      ["since=2025-02-29T00:00:00Z", "since"],
      ["limit=0", "limit"],
      ["limit=abc", "limit"],
      ["limit=1&limit=1", "limit"],
      ["types=sms_status,sms_fax", "types"],
      ["statuses=", "statuses"],
      ["messageIds=a/b", "messageIds"],
      ["bogus=1", "bogus"],
      ["%zz=1", "%zz"],
      [`a=${"x".repeat(5000)}`, "query"],
      [`after=${EPOCH}:1&since=2025-01-01T00:00:00Z`, "after"],
    ];
    for (const [query, parameter] of cases) expect(refused(() => parseHistoryQuery(query)).parameter, query).toBe(parameter.replace("%", "?"));
  });

  it("never throws anything but a HistoryQueryError on random input", () => {
    const r = seededRandom(7);
    const parts = ["after", "since", "limit", "types", "statuses", "messageIds", "token", "x", "%", "=", "&", ":", "-1", "1e9", EPOCH, "sms_status", ",", "%ZZ", "+"];
    for (let i = 0; i < 3000; i++) {
      const query = Array.from({ length: int(r, 0, 12) }, () => pick(r, parts)).join("");
      for (const parse of [parseHistoryQuery, parseStreamQuery]) {
        try {
          parse(query);
        } catch (err) {
          expect(err, query).toBeInstanceOf(HistoryQueryError);
        }
      }
    }
  });

  it("round-trips cursors whose epoch holds colons", () => {
    const c = { epoch: EPOCH, seq: 9007199254740991 };
    expect(parseCursor(formatCursor(c), "after")).toEqual(c);
    expect(refused(() => parseCursor(`${EPOCH}:99999999999999999`, "Last-Event-ID")).parameter).toBe("Last-Event-ID");
  });

  it("accepts only RFC 3339 times with a zone", () => {
    expect(parseRfc3339("2025-01-31T12:00:00Z", "since")).toBe(Date.UTC(2025, 0, 31, 12));
    expect(parseRfc3339("2025-01-31t12:00:00.5z", "since")).toBe(Date.UTC(2025, 0, 31, 12, 0, 0, 500));
    for (const bad of ["2025-01-31", "2025-01-31T12:00:00", "1706702400", "2025-01-31T25:00:00Z", ""]) expect(() => parseRfc3339(bad, "since"), bad).toThrow(HistoryQueryError);
  });

  it("reads Bearer credentials and refuses other schemes", () => {
    expect(bearerCredential("")).toBeUndefined();
    expect(bearerCredential("Bearer abc")).toBe("abc");
    expect(bearerCredential("bearer  abc ")).toBe("abc");
    for (const bad of ["Basic abc", "Bearer", "Bearer a b", "abc"]) expect(() => bearerCredential(bad), bad).toThrow(HistoryQueryError);
  });

  it("takes a token in the stream query, filters beside it", () => {
    expect(parseStreamQuery("token=a.b.c&types=sms_inbound").token).toBe("a.b.c");
    expect(refused(() => parseStreamQuery("token=")).parameter).toBe("token");
    expect(refused(() => parseStreamQuery("after=x")).parameter).toBe("after");
  });

  it("parses resume.since on the auth message", () => {
    const frame = (o: unknown): ArrayBuffer => new TextEncoder().encode(JSON.stringify(o)).buffer as ArrayBuffer;
    expect(parseAuthMessage(frame({ type: "auth", apiKey: "k", resume: { since: "2025-01-31T12:00:00Z" } }), false).resume).toEqual({ sinceMs: Date.UTC(2025, 0, 31, 12) });
    expect(() => parseAuthMessage(frame({ type: "auth", apiKey: "k", resume: { since: "soon" } }), false)).toThrow(/resume.since/);
    expect(() => parseAuthMessage(frame({ type: "auth", apiKey: "k", resume: { since: "2025-01-31T12:00:00Z", seq: 1, epoch: "e" } }), false)).toThrow(/not both/);
  });
});

describe("bearer authentication", () => {
  const record = { role: "app" as const, tenantId: "T", appId: "A", createdAt: "2025-01-01T00:00:00Z" };
  const credentials = {
    apiKey: (k: string) => (k === "good" ? { hash: "h".repeat(64), record } : undefined),
    token: () => ({ ok: false as const, outcome: "token_invalid" as const, closeCode: 4401 as const, error: "Invalid token", detail: "bad" }),
  };

  it("accepts a key from the header, refuses any API key in a URL without looking it up", () => {
    expect(authenticateBearer("good", "header", credentials as never)).toMatchObject({ type: "accept", scope: { role: "app", tenantId: "T", appId: "A" } });
    expect(authenticateBearer("good", "url", credentials as never)).toMatchObject({ type: "reject", outcome: "bad_request", refusal: { reason: /must not be sent in a URL/ } });
    expect(authenticateBearer("bad", "header", credentials as never)).toMatchObject({ type: "reject", outcome: "invalid_key", refusal: Refusals.invalidKey });
    expect(authenticateBearer("a.b.c", "url", credentials as never)).toMatchObject({ type: "reject", outcome: "token_invalid" });
  });
});

describe("SSE frames", () => {
  it("encodes id, event and one data line; no id without a sequence", () => {
    expect(sseEvent(EPOCH, "sms_status", 7, '{"a":"x\\ny"}')).toBe(`id: ${EPOCH}:7\nevent: sms_status\ndata: {"a":"x\\ny"}\n\n`);
    expect(sseEvent(EPOCH, "sms_inbound", undefined, "{}")).toBe("event: sms_inbound\ndata: {}\n\n");
    expect(sseCloseFrame(Refusals.slowConsumer)).toBe('event: close\ndata: {"code":4429,"reason":"slow consumer"}\n\n');
    expect(sseRetryFrame(1000, 5000, () => 0.5)).toBe("retry: 3000\n\n");
  });
});

describe("CORS", () => {
  it("allows requests without Origin, echoes listed origins, refuses others", () => {
    expect(corsFor("", ["https://a.example"])).toEqual({ allowed: true, headers: [] });
    expect(corsFor("https://b.example", ["https://a.example"])).toEqual({ allowed: false });
    expect(corsFor("https://a.example", ["https://a.example"])).toMatchObject({ allowed: true, headers: expect.arrayContaining([["access-control-allow-origin", "https://a.example"], ["vary", "Origin"]]) });
    expect(corsFor("https://b.example", ["*"])).toMatchObject({ allowed: true, headers: expect.arrayContaining([["access-control-allow-origin", "*"]]) });
  });
});

describe("rate limit", () => {
  it("allows a burst of perMinute, refills continuously, says how long to wait, forgets the oldest", () => {
    let t = 0;
    const rate = new RateLimit(60, () => t, 2);
    for (let i = 0; i < 60; i++) expect(rate.take("k")).toBe(0);
    expect(rate.take("k")).toBe(1);
    t += 1000;
    expect(rate.take("k")).toBe(0);
    expect(rate.take("k")).toBeGreaterThanOrEqual(1);
    expect(rate.take("other")).toBe(0);
    expect(rate.take("third")).toBe(0);
    expect(rate.tracked).toBe(2);
    const slow = new RateLimit(1, () => t);
    expect(slow.take("s")).toBe(0);
    expect(slow.take("s")).toBe(60);
  });
});
