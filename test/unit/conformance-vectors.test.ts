/**
 * The conformance vectors (conformance/vectors.json) that the Python and Go SDKs are tested
 * against: the committed file must be what the generator makes from today's sources (run
 * `npm run -s build && node scripts/conformance-vectors.mjs` after a protocol change), every close
 * code the server can send must have its vector, and the TypeScript SDK must behave as they say.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { backoffDelay } from "../../src/client/backoff.js";
import { closeAction, CloseCode, HEARTBEAT_TIMEOUT_CLOSE } from "../../src/client/close-codes.js";
import { EventIdWindow } from "../../src/client/dedupe.js";
import { parseServerFrame } from "../../src/client/frames.js";
import { historyQueryString, historyUrlOf, type HistoryQuery } from "../../src/client/history.js";
import { routedUrl, tokenTenant } from "../../src/client/routing.js";
import { planRefresh } from "../../src/client/token-refresh.js";
import { Refusals } from "../../src/protocol/refusal.js";
import { encodeEvent, prepareEvent } from "../../src/publisher/index.js";

const FILE = new URL("../../conformance/vectors.json", import.meta.url);
const text = readFileSync(FILE, "utf8");
// A JSON document read by several languages: its shape is checked value by value below.
const v = JSON.parse(text) as any; // eslint-disable-line @typescript-eslint/no-explicit-any

describe("conformance vectors", () => {
  it("the committed file is what the generator makes from the built sources", async () => {
    // @ts-expect-error a plain .mjs script, no declarations
    const generator = (await import("../../scripts/conformance-vectors.mjs")) as { vectorsText(): string };
    expect(generator.vectorsText() === text, "conformance/vectors.json is stale: npm run -s build && node scripts/conformance-vectors.mjs").toBe(true);
  });

  it("every close code and every refusal has its vector", () => {
    const codes = new Set((v.closeCodes as { code: number }[]).map((c) => c.code));
    for (const code of Object.values(CloseCode)) expect(codes, `close code ${code}`).toContain(code);
    for (const r of Object.values(Refusals)) expect(codes, `refusal ${r.reason}`).toContain(r.code);
    const refusals = new Set((v.refusals as { reason: string }[]).map((r) => r.reason));
    for (const r of Object.values(Refusals)) expect(refusals).toContain(r.reason);
    expect(v.heartbeatTimeoutClose).toBe(HEARTBEAT_TIMEOUT_CLOSE);
  });

  it("the SDK's close decision, frame parser, backoff, refresh plan, routing, window and history queries match", () => {
    for (const c of v.closeCodes) expect(closeAction(c.code), c.name).toEqual(c.action);
    expect(closeAction(1006)).toEqual(v.unlistedCloseAction);
    for (const f of v.serverFrames) expect(parseServerFrame(f.frame), f.name).toEqual(f.parsed);
    for (const b of v.backoff) expect(backoffDelay(b.attempt, b, () => b.random)).toBe(b.delayMs);
    for (const r of v.refresh) expect(planRefresh(r.expMs, r.nowMs, r.floorMs, () => r.random)).toEqual(r.plan);
    for (const t of v.routing.tokenTenant) expect(tokenTenant(t.token) ?? null).toBe(t.tenantId);
    for (const r of v.routing.routedUrl) expect(routedUrl(r.url, r.tenantId ?? undefined, r.slots, () => r.random)).toBe(r.routed);
    const w = new EventIdWindow(v.dedupe.capacity);
    expect((v.dedupe.ids as string[]).map((id) => w.add(id))).toEqual(v.dedupe.added);
    for (const u of v.history.urls) expect(historyUrlOf(u.ws)).toBe(u.http);
    for (const q of v.history.queries) expect(historyQueryString(q.query as HistoryQuery)).toBe(q.queryString);
  });

  it("the publisher's bytes and refusals match", () => {
    for (const p of v.publisher.valid) {
      const event = prepareEvent(p.input);
      expect(event).toEqual(p.event);
      expect(Buffer.from(encodeEvent(event)).toString("hex")).toBe(p.msgpackHex);
    }
    for (const p of v.publisher.invalid) expect(() => prepareEvent(p.input)).toThrow(expect.objectContaining({ reason: p.reason }));
  });
});
