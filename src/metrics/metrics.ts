/**
 * Prometheus metrics (README.md, "Metrics"), one registry per node. Cardinality is bounded: no label per
 * tenant, app, key or socket, except tenants named in METRICS_TENANTS (everyone else is "other").
 * Per event the node pays plain additions: the event counters below are summed into prom-client's
 * counters when scraped (their collect()), and the fan-out latency histogram is a LatencyHistogram
 * (no label hashing, no allocation). Every event is counted; nothing is sampled.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import { REJECT_REASONS } from "../errors.js";
import { LatencyHistogram } from "./latency-histogram.js";

export const AUTH_OUTCOMES = [
  "ok",
  "invalid_key",
  "bad_request",
  "timeout",
  "revoked",
  "tenant_limit",
  "token_ok",
  "token_invalid",
  "token_expired",
  "token_revoked",
  /** Refused by the fleet-wide per-tenant quota (KV sms_tenants). */
  "tenant_quota",
  /** A credential of a role this node's pool does not serve (ALLOWED_ROLES). */
  "wrong_pool",
] as const;
export type AuthOutcome = (typeof AUTH_OUTCOMES)[number];

/** The statuses GET /v1/events answers with (README.md, "History over HTTP"). */
export const HISTORY_STATUSES = ["200", "204", "400", "401", "403", "409", "410", "429", "503"] as const;

export function createMetrics(options: { tenants?: readonly string[]; defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const brokenOut = new Set(options.tenants ?? []);
  const registers = [registry];

  const connections = new Gauge({
    name: "smsws_connections",
    help: "Open WebSocket connections by role and state",
    labelNames: ["role", "state"] as const,
    registers,
  });
  for (const role of ["none", "app", "admin"] as const) {
    connections.set({ role, state: role === "none" ? "authenticating" : "authenticated" }, 0);
  }
  // Per-event counts: a plain addition on the event path, handed to the counter when it is read.
  interface Pending {
    readonly tenant: string;
    n: number;
  }
  const deliveredOther: Pending = { tenant: "other", n: 0 };
  const deliveredByTenant = new Map([...brokenOut].map((t): [string, Pending] => [t, { tenant: t, n: 0 }]));
  const eventsDelivered = new Counter({
    name: "smsws_events_delivered_total",
    help: "Deliveries (one event reaching one WebSocket or one SSE stream)",
    labelNames: ["tenant"] as const,
    registers,
    collect() {
      for (const p of [deliveredOther, ...deliveredByTenant.values()]) {
        this.inc({ tenant: p.tenant }, p.n);
        p.n = 0;
      }
    },
  });

  const receivedByKind = { status: 0, inbound: 0 };
  const eventsReceived = new Counter({
    name: "smsws_events_received_total",
    help: "Valid events received from NATS, by kind",
    labelNames: ["kind"] as const,
    registers,
    collect() {
      this.inc({ kind: "status" }, receivedByKind.status);
      this.inc({ kind: "inbound" }, receivedByKind.inbound);
      receivedByKind.status = 0;
      receivedByKind.inbound = 0;
    },
  });

  const metrics = {
    registry,
    connections,
    connectionsOpened: new Counter({ name: "smsws_connections_opened_total", help: "WebSocket connections opened", registers }),
    connectionsClosed: new Counter({
      name: "smsws_connections_closed_total",
      help: "WebSocket connections closed, by close code",
      labelNames: ["code"] as const,
      registers,
    }),
    auth: new Counter({
      name: "smsws_auth_total",
      help: "Authentication results by outcome",
      labelNames: ["outcome"] as const,
      registers,
    }),
    eventsReceived,
    received(kind: "status" | "inbound"): void {
      receivedByKind[kind]++;
    },
    eventsRejected: new Counter({
      name: "smsws_events_rejected_total",
      help: "Bus payloads dropped, by reason",
      labelNames: ["reason"] as const,
      registers,
    }),
    fanoutLatency: new LatencyHistogram(
      "smsws_fanout_latency_seconds",
      "Event timestamp to hand-off to uWS for publishing",
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    ),
    tokenRefreshes: new Counter({
      name: "smsws_token_refreshes_total",
      help: "In-band token refreshes by outcome (scope: the new token names another tenant or app)",
      labelNames: ["outcome"] as const,
      registers,
    }),
    authDelayed: new Counter({
      name: "smsws_auth_delayed_total",
      help: "Failed authentications answered after a delay (the address passed AUTH_FAILURES_PER_IP_PER_MIN)",
      registers,
    }),
    upgradesRefused: new Counter({
      name: "smsws_upgrades_refused_total",
      help: "WebSocket upgrades refused before the handshake, by reason",
      labelNames: ["reason"] as const,
      registers,
    }),
    slowConsumerCloses: new Counter({
      name: "smsws_slow_consumer_closes_total",
      help: "Sockets closed because their send buffer passed MAX_BACKPRESSURE_BYTES",
      registers,
    }),
    natsConnected: new Gauge({ name: "smsws_nats_connected", help: "1 while connected to NATS", registers }),
    natsReconnects: new Counter({ name: "smsws_nats_reconnects_total", help: "NATS reconnections", registers }),
    activeScopes: new Gauge({ name: "smsws_active_scopes", help: "Distinct scopes with at least one socket", registers }),
    natsSubscriptions: new Gauge({ name: "smsws_nats_subscriptions", help: "Event subscriptions held on NATS", registers }),
    derivedTopics: new Gauge({
      name: "smsws_derived_topics",
      help: "Derived uWS topics (filters: type, status, message) with at least one socket",
      registers,
    }),
    keys: new Gauge({ name: "smsws_keys", help: "API keys in the key store", registers }),
    keysLastUpdate: new Gauge({
      name: "smsws_keys_last_update_timestamp_seconds",
      help: "Time of the last key-store change",
      registers,
    }),
    draining: new Gauge({ name: "smsws_draining", help: "1 while the node is draining", registers }),
    ready: new Gauge({ name: "smsws_ready", help: "1 while /readyz answers 200", registers }),
    // The accept guard (src/server/accept-guard.ts): descriptors against RLIMIT_NOFILE.
    openFds: new Gauge({ name: "smsws_open_fds", help: "Open file descriptors of the process, as the accept guard last counted them", registers }),
    fdLimit: new Gauge({ name: "smsws_fd_limit", help: "RLIMIT_NOFILE (soft) the accept guard measures against", registers }),
    acceptPaused: new Gauge({ name: "smsws_accept_paused", help: "1 while the listener is closed because descriptors are near the limit", registers }),
    acceptPauses: new Counter({ name: "smsws_accept_pauses_total", help: "Times the listener was closed because descriptors neared the limit", registers }),
    resumes: new Counter({
      name: "smsws_resumes_total",
      help: "Resume requests by outcome (stalled, behind: the socket was closed 4429 during its replay)",
      labelNames: ["outcome"] as const,
      registers,
    }),
    eventsReplayed: new Counter({ name: "smsws_events_replayed_total", help: "Events sent by resume replays", registers }),
    gapRepairs: new Counter({
      name: "smsws_gap_repairs_total",
      help: "Events fetched from the stream to fill a gap in a live subject",
      registers,
    }),
    gapsUnrecoverable: new Counter({
      name: "smsws_gaps_unrecoverable_total",
      help: "Gaps that could not be repaired (events past retention or stream unavailable)",
      registers,
    }),
    historyRequests: new Counter({
      name: "smsws_history_requests_total",
      help: "GET /v1/events requests by HTTP status",
      labelNames: ["status"] as const,
      registers,
    }),
    sseStreams: new Gauge({ name: "smsws_sse_streams", help: "Open Server-Sent Events streams (GET /v1/events/stream)", registers }),
    /** Count deliveries of one event; the tenant label is "other" unless allow-listed. */
    delivered(tenantId: string, sockets: number): void {
      if (sockets === 0) return;
      if (deliveredByTenant.size === 0) deliveredOther.n += sockets;
      else (deliveredByTenant.get(tenantId) ?? deliveredOther).n += sockets;
    },
  };
  // Every known label value exists from the start, so rate() and alerts see a series at 0.
  for (const outcome of AUTH_OUTCOMES) metrics.auth.inc({ outcome }, 0);
  for (const outcome of ["ok", "invalid", "expired", "revoked", "scope"]) metrics.tokenRefreshes.inc({ outcome }, 0);
  for (const reason of REJECT_REASONS) metrics.eventsRejected.inc({ reason }, 0);
  for (const outcome of ["ok", "epoch", "retention", "limit", "unavailable", "stalled", "behind"]) metrics.resumes.inc({ outcome }, 0);
  for (const status of HISTORY_STATUSES) metrics.historyRequests.inc({ status }, 0);
  eventsReceived.inc({ kind: "status" }, 0);
  eventsReceived.inc({ kind: "inbound" }, 0);
  eventsDelivered.inc({ tenant: "other" }, 0);
  for (const t of deliveredByTenant.keys()) eventsDelivered.inc({ tenant: t }, 0);
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;
