#!/usr/bin/env node
/**
 * The conformance vectors every SDK (TypeScript, Python, Go) is tested against, generated from
 * the TypeScript sources so that no other language hand-copies a table that could drift:
 *
 *   npm run -s build && node scripts/conformance-vectors.mjs      # writes conformance/vectors.json
 *   node scripts/conformance-vectors.mjs --check                  # exits 1 when a file is stale
 *
 * It writes conformance/vectors.json and the copy shipped in the Python package.
 *
 * Everything comes from the built modules: the close-code table, the server's own frame builders,
 * the event path of a node (publisher encoder -> bus decoder -> client frame), the SDK's parser,
 * backoff, refresh plan, routing, de-duplication, history query strings, and scripted sessions run
 * against the TypeScript client itself over a fake socket (what it sent, what it delivered). The
 * format is described in conformance/README.md.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { backoffDelay } from "../dist/client/backoff.js";
import { CLOSE_ACTIONS, closeAction, CloseCode, HEARTBEAT_TIMEOUT_CLOSE } from "../dist/client/close-codes.js";
import { SmsWsClient } from "../dist/client/client.js";
import { EventIdWindow } from "../dist/client/dedupe.js";
import { parseServerFrame } from "../dist/client/frames.js";
import { historyQueryString, historyUrlOf } from "../dist/client/history.js";
import { DEFAULTS } from "../dist/client/options.js";
import { routedUrl, tokenTenant } from "../dist/client/routing.js";
import { MAX_REFRESH_FLOOR_MS, MIN_REFRESH_DELAY_MS, planRefresh, REFRESH_MARGIN_MS, REFRESH_MARGIN_RATIO } from "../dist/client/token-refresh.js";
import { frames as watchFrames } from "../dist/client/watch-set.js";
import { decodeBusEvent } from "../dist/bus/event-decoder.js";
import { durableSubject, liveSubject } from "../dist/bus/contract.js";
import { fnv1a32 } from "../dist/bus/partitions.js";
import { appTokenOf, EVENT_FIELD_MAX_LENGTH, kindOfType } from "../dist/events/event.js";
import { Refusals } from "../dist/protocol/refusal.js";
import { authErrorFrame, authOkFrame, PING_FRAME, refreshOkFrame, resumedFrame, resumeFailedFrame, watchOkFrame } from "../dist/protocol/server-messages.js";
import { encodeEvent, prepareEvent } from "../dist/publisher/index.js";

const ROOT = new URL("..", import.meta.url);
const OUT = new URL("conformance/vectors.json", ROOT);
/** The copy the Python package ships (its close-code table and defaults are read from it). */
// The copies each SDK ships (Go embeds its own; its test also compares it with OUT).
const COPIES = [OUT, new URL("clients/python/src/sms_ws_client/vectors.json", ROOT), new URL("clients/go/vectors.json", ROOT)];
const SDK_VERSION = JSON.parse(readFileSync(new URL("packages/client/package.json", ROOT), "utf8")).version;

const EPOCH = "2026-01-01T00:00:00.000Z";
const EPOCH2 = "2026-02-01T00:00:00.000Z";
const TS = "2026-01-01T12:00:00.000Z";

/** A client frame of an event exactly as a node sends it: publisher encoder -> bus decoder. */
function eventFrame(input, seq) {
  const event = prepareEvent({ timestamp: TS, ...input });
  const subject = liveSubject(event.tenantId, appTokenOf(event), kindOfType[event.type]);
  return decodeBusEvent(subject, encodeEvent(event), seq).frame;
}

const status = (eventId, seq, extra = {}) => eventFrame({ type: "sms_status", eventId, messageId: `m-${eventId}`, tenantId: "T1", appId: "A1", status: "sent", ...extra }, seq);

function closeCodes() {
  return Object.entries(CloseCode).map(([name, code]) => ({ name, code, action: CLOSE_ACTIONS[code] }));
}

function serverFrames() {
  const cases = [
    ["ping", PING_FRAME, "ignore (any frame resets the heartbeat watchdog)"],
    ["auth_ok", authOkFrame(undefined), "authenticated; the node has no stream: a resume request fails locally as 'unavailable'"],
    ["auth_ok with epoch", authOkFrame(EPOCH), "authenticated; remember the epoch (a new epoch forgets the last seq)"],
    ["auth_ok with epoch and exp", authOkFrame(EPOCH, 1767272400), "authenticated; token sockets schedule a refresh before exp"],
    ["auth_ok admin partitions", authOkFrame(EPOCH, undefined, [EPOCH, EPOCH2]), "authenticated (admin socket on a partitioned stream)"],
    ["refresh_ok", refreshOkFrame(1767276000), "the socket now expires at exp: schedule the next refresh"],
    ["resumed", resumedFrame(7), "the replay is complete: report resumed(replayed) and go live"],
    ...["retention", "epoch", "limit", "unavailable"].map((reason) => [`resume_failed ${reason}`, resumeFailedFrame(reason), "report resumeFailed(reason, from, disconnectedAt) and go live; retention with backfill: page history"]),
    ["watch_ok", watchOkFrame(3, 0), "answers the oldest unanswered watch/unwatch with count"],
    ["watch_ok ignored", watchOkFrame(3, 2), "answers the oldest unanswered watch/unwatch with count"],
    ...Object.entries(Refusals).map(([name, r]) => [`auth_error ${name}`, authErrorFrame(r.reason), `remember the text; the close (${r.code}) that follows decides`]),
    ["event sms_status", status("e1", undefined), "deliver unless its eventId was seen"],
    ["event sms_status with seq and optional fields", status("e2", 42, { status: "failed", error: "no route", rcMessageId: "rc-9" }), "deliver; seq advances the position"],
    ["event sms_inbound", eventFrame({ type: "sms_inbound", eventId: "e3", messageId: "m3", tenantId: "T1", from: "+15550001", to: "+15550002", body: "hi\nthere" }, 43), "deliver"],
    ["event sms_inbound with app", eventFrame({ type: "sms_inbound", eventId: "e4", messageId: "m4", tenantId: "T1", appId: "A1", from: "+1", to: "+2", body: "", rcMessageId: "r" }, undefined), "deliver"],
    // Not built by the server: what a client must do with frames a future or broken server sends.
    ["unknown type", JSON.stringify({ type: "presence", x: 1 }), "ignore (forward compatibility)"],
    ["not JSON", "{nope", "drop; report INVALID_FRAME (not fatal)"],
    ["not an object", "[1,2]", "drop; report INVALID_FRAME (not fatal)"],
    ["event without eventId", JSON.stringify({ type: "sms_status", messageId: "m", appId: "a", tenantId: "t", status: "sent", timestamp: TS }), "drop; report INVALID_FRAME"],
    ["event with a negative seq", JSON.stringify({ type: "sms_status", eventId: "e", messageId: "m", appId: "a", tenantId: "t", status: "sent", timestamp: TS, seq: -1 }), "drop; report INVALID_FRAME"],
    ["event with a non-string optional", JSON.stringify({ type: "sms_inbound", eventId: "e", messageId: "m", from: "1", to: "2", body: "", tenantId: "t", timestamp: TS, appId: 5 }), "drop; report INVALID_FRAME"],
    ["refresh_ok without exp", JSON.stringify({ type: "refresh_ok" }), "drop; report INVALID_FRAME"],
    ["watch_ok without count", JSON.stringify({ type: "watch_ok" }), "drop; report INVALID_FRAME"],
    ["auth_ok with a malformed exp", JSON.stringify({ type: "auth_ok", epoch: EPOCH, exp: "soon" }), "authenticated; exp dropped (no refresh; the server's 4419 still brings a fresh token)"],
  ];
  return cases.map(([name, frame, client]) => ({ name, frame, parsed: parseServerFrame(frame), client }));
}

// ---- scripted sessions against the TypeScript client --------------------------------------

/** A socket the session script drives synchronously. */
class ScriptSocket {
  static opened = [];
  readyState = 0;
  sent = [];
  onopen = null;
  onmessage = null;
  onclose = null;
  onerror = null;
  constructor(url) {
    this.url = url;
    ScriptSocket.opened.push(this);
  }
  send(data) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.readyState = 3;
  }
}

/**
 * Steps: {open} opens the client's newest socket; {recv: frame}; {close: code, reason}. Timers
 * (reconnect delays, random 0 so delay 0) run when the step list asks for the next socket.
 */
function runSession(script, options = {}) {
  ScriptSocket.opened = [];
  const timers = [];
  const client = new SmsWsClient({
    url: "ws://gateway.test/ws",
    apiKey: "KEY",
    WebSocket: ScriptSocket,
    pingIntervalMs: 0,
    random: () => 0,
    now: () => Date.parse(TS),
    timers: { setTimeout: (cb) => (timers.push(cb), timers.length), clearTimeout: (h) => (timers[h - 1] = undefined) },
    fetch: async () => ({ status: 500, text: async () => "{}" }),
    ...options,
  });
  const notices = [];
  const delivered = [];
  const errors = [];
  client.on("event", (e) => delivered.push(e.eventId));
  client.on("resumed", (r) => notices.push({ kind: "resumed", ...r }));
  client.on("resumeFailed", (r) => notices.push({ kind: "resumeFailed", ...r }));
  client.on("error", (e) => errors.push({ code: e.code, closeCode: e.closeCode ?? null, fatal: e.fatal }));
  const states = [];
  client.on("state", (s) => states.push(s.state));
  const runTimers = () => {
    for (let i = 0; i < timers.length; i++) {
      const cb = timers[i];
      timers[i] = undefined;
      cb?.();
    }
  };
  for (const step of script) {
    const socket = ScriptSocket.opened.at(-1);
    if (step.open) {
      runTimers();
      const s = ScriptSocket.opened.at(-1);
      s.readyState = 1;
      s.onopen?.({});
    } else if (step.recv !== undefined) socket.onmessage?.({ data: step.recv });
    else if (step.close !== undefined) {
      socket.readyState = 3;
      socket.onclose?.({ code: step.close, reason: step.reason ?? "" });
    }
  }
  runTimers(); // a reconnect after the last close shows as one more socket
  const result = {
    sockets: ScriptSocket.opened.map((s) => ({ url: s.url, sent: s.sent })),
    delivered: [...delivered],
    notices: [...notices],
    errors: [...errors],
    states: [...states],
    final: { state: client.state, position: client.position ?? null, positions: client.positions ?? null },
  };
  client.close();
  return result;
}

function sessions() {
  const s = [];
  const add = (name, description, script, options) => s.push({ name, description, options: options ?? {}, script, expect: runSession(script, options) });
  add("live events, a drop, resume with a duplicate", "events a, b; 1001; the resume replays b again: delivered once", [
    { open: true }, { recv: authOkFrame(EPOCH) }, { recv: status("a", 1) }, { recv: status("b", 2) }, { close: 1001, reason: "server shutting down" },
    { open: true }, { recv: authOkFrame(EPOCH) }, { recv: status("b", 2) }, { recv: status("c", 3) }, { recv: resumedFrame(2) },
  ]);
  add("duplicate on one socket", "the same eventId twice: delivered once", [
    { open: true }, { recv: authOkFrame(EPOCH) }, { recv: status("a", 1) }, { recv: status("a", 1) },
  ]);
  for (const reason of ["retention", "epoch", "limit", "unavailable"]) {
    add(`resume_failed ${reason}`, "reported with the position asked; the client goes live", [
      { open: true }, { recv: authOkFrame(EPOCH) }, { recv: status("a", 5) }, { close: 1006 },
      { open: true }, { recv: authOkFrame(reason === "epoch" ? EPOCH2 : EPOCH) }, { recv: resumeFailedFrame(reason) }, { recv: status("b", reason === "epoch" ? 1 : 6) },
    ]);
  }
  add("resume on a node without a stream", "auth_ok without epoch answers a resume: resumeFailed unavailable, decided by the client", [
    { open: true }, { recv: authOkFrame(EPOCH) }, { recv: status("a", 5) }, { close: 1001 },
    { open: true }, { recv: authOkFrame(undefined) },
  ]);
  add("reconnect without a position", "no event with a seq before the drop: resumeFailed no_position", [
    { open: true }, { recv: authOkFrame(EPOCH) }, { recv: status("a", undefined) }, { close: 1001 },
    { open: true }, { recv: authOkFrame(EPOCH) },
  ]);
  add("resumeFrom on the first connection", "the stored position goes into the first auth message", [
    { open: true }, { recv: authOkFrame(EPOCH) }, { recv: status("x", 11) }, { recv: resumedFrame(1) },
  ], { resumeFrom: { epoch: EPOCH, seq: 10 } });
  add("auth_error then 4401", "stop; the error's text is the auth_error's", [
    { open: true }, { recv: authErrorFrame(Refusals.invalidKey.reason) }, { close: Refusals.invalidKey.code, reason: Refusals.invalidKey.reason },
  ]);
  add("invalid and unknown frames", "an invalid frame is reported and dropped; an unknown type ignored; the session carries on", [
    { open: true }, { recv: authOkFrame(EPOCH) }, { recv: "{nope" }, { recv: JSON.stringify({ type: "presence" }) }, { recv: status("a", 1) },
  ]);
  add("filter and watches", "the auth filter carries the first 20 followed ids, watch frames carry the rest", [
    { open: true }, { recv: authOkFrame(EPOCH) },
  ], { filter: { types: ["sms_status"], messageIds: Array.from({ length: 25 }, (_, i) => `m${i}`) } });
  add("tenant routing hint", "tenantHint goes into the URL as ?tenant=", [{ open: true }, { recv: authOkFrame(EPOCH) }], { tenantHint: "T1" });
  for (const { code } of closeCodes()) {
    add(`close ${code}`, "after auth_ok and one event, the server closes with this code", [
      { open: true }, { recv: authOkFrame(EPOCH) }, { recv: status("a", 1) }, { close: code, reason: "r" },
    ]);
  }
  add("close 1006", "an unlisted code reconnects", [{ open: true }, { recv: authOkFrame(EPOCH) }, { close: 1006 }]);
  adminPartitionSessions(add);
  // Options that are functions do not survive JSON; sessions only use plain options.
  return s;
}

/**
 * An admin socket on K partitions (docs/partitioning.md, "Positions"): auth_ok carries `epochs`,
 * the client keeps one seq per partition (the partition of an event is fnv1a32(tenantId) % K,
 * computed here with the server's function) and resumes with all K positions.
 */
function adminPartitionSessions(add) {
  const K = 3;
  const epochs = Array.from({ length: K }, (_, k) => `p${k}/${K}@${EPOCH}`);
  // The first tenant id T<n> of each partition, so every partition has events.
  const tenants = [];
  for (let n = 1; tenants.filter(Boolean).length < K; n++) tenants[fnv1a32(`T${n}`) % K] ??= `T${n}`;
  const ev = (id, k, seq) => status(id, seq, { tenantId: tenants[k] });
  const admin = (list = epochs) => ({ recv: authOkFrame(undefined, undefined, list) });
  const everyPartition = [ev("a0", 0, 1), ev("a1", 1, 1), ev("a2", 2, 1), ev("b0", 0, 2), ev("b2", 2, 5)].map((recv) => ({ recv }));
  add("admin partitions: resume with positions", `K=${K}: events of tenants in every partition; 1001; the auth carries resume.positions (all K, in order); a replayed duplicate is dropped`, [
    { open: true }, admin(), ...everyPartition, { close: 1001 },
    { open: true }, admin(), { recv: ev("b2", 2, 5) }, { recv: ev("c1", 1, 2) }, { recv: resumedFrame(2) }, { recv: ev("c0", 0, 3) },
  ]);
  add("admin partitions: a partition without a position", "no event of partition 1 before the drop: no exact resume is possible, resumeFailed no_position", [
    { open: true }, admin(), { recv: ev("a0", 0, 1) }, { recv: ev("a2", 2, 1) }, { close: 1006 },
    { open: true }, admin(),
  ]);
  const changed = epochs.map((e, k) => (k === 1 ? `p1/${K}@${EPOCH2}` : e));
  add("admin partitions: the epoch of one partition changes", "partition 1 is re-created: resume_failed epoch; it loses its position, the others keep theirs; its next event restores an exact resume", [
    { open: true }, admin(), ...everyPartition, { close: 1001 },
    { open: true }, admin(changed), { recv: resumeFailedFrame("epoch") }, { recv: ev("d0", 0, 3) }, { close: 1001 },
    { open: true }, admin(changed), { recv: ev("e1", 1, 1) }, { close: 1001 },
    { open: true }, admin(changed), { recv: resumedFrame(0) },
  ]);
  add("admin partitions: resumeFrom positions", "stored positions (all K) go into the first auth message", [
    { open: true }, admin(), { recv: ev("x1", 1, 8) }, { recv: resumedFrame(1) },
  ], { resumeFrom: epochs.map((epoch, k) => ({ epoch, seq: 3 + k })) });
}

function backoff() {
  const out = [];
  for (const [initialDelayMs, maxDelayMs] of [[1000, 30000], [500, 2000]]) {
    for (const attempt of [0, 1, 2, 5, 10, 60]) {
      for (const random of [0, 0.5, 0.999]) out.push({ attempt, initialDelayMs, maxDelayMs, random, delayMs: backoffDelay(attempt, { initialDelayMs, maxDelayMs }, () => random) });
    }
  }
  return out;
}

function refresh() {
  const now = Date.parse(TS);
  const out = [];
  for (const leftMs of [900_000, 120_000, 30_000, 4_000, -10_000]) {
    for (const floorMs of [MIN_REFRESH_DELAY_MS, 40_000]) {
      for (const random of [0, 0.5]) out.push({ expMs: now + leftMs, nowMs: now, floorMs, random, plan: planRefresh(now + leftMs, now, floorMs, () => random) });
    }
  }
  return out;
}

function b64url(o) {
  return Buffer.from(JSON.stringify(o)).toString("base64url");
}

function routing() {
  const jwt = (claims) => `${b64url({ alg: "EdDSA", typ: "JWT" })}.${b64url(claims)}.sig`;
  const tokens = [jwt({ tenantId: "T1", appId: "A1" }), jwt({ tenantId: "bad tenant" }), jwt({ sub: "x" }), "not-a-jwt", "a.!!!.c"];
  return {
    tokenTenant: tokens.map((token) => ({ token, tenantId: tokenTenant(token) ?? null })),
    routedUrl: [
      ["ws://h.test/ws", undefined, 1, 0],
      ["ws://h.test/ws", "T1", 1, 0],
      ["wss://h.test/ws?x=1", "T1", 1, 0],
      ["ws://h.test/ws", "T1", 4, 0],
      ["ws://h.test/ws", "T1", 4, 0.99],
      ["ws://h.test/ws?tenant=old", "T1", 2, 0.5],
    ].map(([url, tenantId, slots, random]) => ({ url, tenantId: tenantId ?? null, slots, random, routed: routedUrl(url, tenantId, slots, () => random) })),
  };
}

function dedupe() {
  const w = new EventIdWindow(3);
  const ids = ["a", "b", "a", "c", "d", "a", "b", "d"];
  return { capacity: 3, ids, added: ids.map((id) => w.add(id)) };
}

function history() {
  const queries = [
    {},
    { limit: 10 },
    { after: { epoch: EPOCH, seq: 5 }, limit: 1000 },
    { after: "opaque-next" },
    { since: "1970-01-01T00:00:00Z", limit: 1000 },
    { filter: { types: ["sms_status", "sms_inbound"], statuses: ["sent"], messageIds: ["m1", "m2"] } },
  ];
  return {
    urls: ["ws://h.test/ws", "wss://h.test:8443/ws?tenant=T1", "ws://127.0.0.1:9000/ws"].map((ws) => ({ ws, http: historyUrlOf(ws) })),
    queries: queries.map((query) => ({ query, queryString: historyQueryString(query) })),
    backfillStart: { since: "1970-01-01T00:00:00Z", limit: 1000 },
  };
}

function publisher() {
  const inputs = [
    { type: "sms_status", eventId: "ev-1", timestamp: TS, messageId: "m1", appId: "A1", tenantId: "T1", status: "sent" },
    { type: "sms_status", eventId: "ev-2", timestamp: TS, messageId: "m2", appId: "A1", tenantId: "T1", status: "failed", error: "no route", rcMessageId: "rc-9", extra: "dropped" },
    { type: "sms_inbound", eventId: "ev-3", timestamp: TS, messageId: "m3", tenantId: "T1", from: "+15550001", to: "+15550002", body: "héllo 👋\nline 2" },
    { type: "sms_inbound", eventId: "ev-4", timestamp: TS, messageId: "m4", tenantId: "T1", appId: "A1", from: "+1", to: "+2", body: "x".repeat(300), rcMessageId: "r4" },
    { type: "sms_inbound", eventId: "ev-5", timestamp: TS, messageId: "m5", tenantId: "T1", appId: "_", from: "+1", to: "+2", body: "" },
    { rcMessageId: "r6", status: "delivered", tenantId: "T-2", appId: "app_2", messageId: "m6", eventId: "ev-6", timestamp: "2026-01-01T12:00:00Z", type: "sms_status" },
  ];
  const valid = inputs.map((input) => {
    const event = prepareEvent(input);
    const kind = kindOfType[event.type];
    return {
      input,
      event,
      msgpackHex: Buffer.from(encodeEvent(event)).toString("hex"),
      durableSubject: durableSubject(event.tenantId, appTokenOf(event), kind),
      liveSubject: liveSubject(event.tenantId, appTokenOf(event), kind),
      msgId: event.eventId,
    };
  });
  const base = { type: "sms_status", eventId: "ev", timestamp: TS, messageId: "m", appId: "A", tenantId: "T", status: "sent" };
  const bad = [
    { ...base, type: "sms_other" },
    { ...base, messageId: undefined },
    { ...base, messageId: "" },
    { ...base, tenantId: "bad tenant" },
    { ...base, appId: "_" },
    { ...base, eventId: "e".repeat(65) },
    { ...base, error: "x".repeat(513) },
    { ...base, status: "sent\u0007" },
    { ...base, status: "\u202esent" },
    { ...base, timestamp: "not a date" },
    { ...base, status: 5 },
    { type: "sms_inbound", eventId: "ev", timestamp: TS, messageId: "m", tenantId: "T", from: "+1", to: "+2", body: "a\u0000b" },
    { type: "sms_inbound", eventId: "ev", timestamp: TS, messageId: "m", tenantId: "T", from: "+1", to: "+2", body: "😀".repeat(2049) },
  ].map((input) => {
    for (const k of Object.keys(input)) if (input[k] === undefined) delete input[k];
    try {
      prepareEvent(input);
      throw new Error(`accepted: ${JSON.stringify(input)}`);
    } catch (err) {
      if (err.reason === undefined) throw err;
      return { input, reason: err.reason };
    }
  });
  return { fieldMaxLength: EVENT_FIELD_MAX_LENGTH, lengthUnit: "UTF-16 code units", valid, invalid: bad };
}

export function buildVectors() {
  return {
    about: "Generated by scripts/conformance-vectors.mjs from the TypeScript sources; do not edit. Format: conformance/README.md.",
    sdkVersion: SDK_VERSION,
    closeCodes: closeCodes(),
    unlistedCloseAction: closeAction(1006),
    heartbeatTimeoutClose: HEARTBEAT_TIMEOUT_CLOSE,
    refusals: Object.entries(Refusals).map(([name, r]) => ({ name, code: r.code, reason: r.reason, action: closeAction(r.code) })),
    defaults: { ...DEFAULTS, refreshMarginMs: REFRESH_MARGIN_MS, refreshMarginRatio: REFRESH_MARGIN_RATIO, minRefreshDelayMs: MIN_REFRESH_DELAY_MS, maxRefreshFloorMs: MAX_REFRESH_FLOOR_MS },
    serverFrames: serverFrames(),
    sessions: sessions(),
    backoff: backoff(),
    refresh: refresh(),
    routing: routing(),
    dedupe: dedupe(),
    history: history(),
    watchFrames: { ids: Array.from({ length: 120 }, (_, i) => `m${i}`).length, watch: watchFrames("watch", Array.from({ length: 120 }, (_, i) => `m${i}`)), unwatch: watchFrames("unwatch", ["m1"]) },
    publisher: publisher(),
  };
}

export function vectorsText() {
  return `${JSON.stringify(buildVectors(), null, 2)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = vectorsText();
  for (const file of COPIES) {
    if (process.argv.includes("--check")) {
      let current = "";
      try {
        current = readFileSync(file, "utf8");
      } catch {
        // missing: stale
      }
      if (current !== text) {
        console.error(`${fileURLToPath(file)} is stale: run \`npm run -s build && node scripts/conformance-vectors.mjs\``);
        process.exitCode = 1;
      }
    } else {
      writeFileSync(file, text);
      console.log(`wrote ${fileURLToPath(file)}`);
    }
  }
}
