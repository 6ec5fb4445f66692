/**
 * The fleet plane's metrics, registered on the node's registry (src/metrics/metrics.ts) by the
 * composition root. Bounded labels: three endpoints, the gate's fixed reasons.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import { COUNTS_REJECT_REASONS } from "./counts-gate.js";
import type { FleetEndpoint, FleetMetrics } from "./fleet-service.js";

const ENDPOINTS: readonly FleetEndpoint[] = ["conns", "kick", "stats"];

export function createFleetMetrics(registry: Registry, signed: boolean): FleetMetrics {
  const registers = [registry];
  const refused = new Counter({
    name: "smsws_fleet_requests_refused_total",
    help: "Fleet requests (conns, kick, stats) dropped unanswered and unexecuted: their reply subject is not an operator's inbox",
    labelNames: ["endpoint"] as const,
    registers,
  });
  const rejected = new Counter({
    name: "smsws_fleet_counts_rejected_total",
    help: "Quota counts from other nodes refused (malformed, wrong_subject, unsigned, bad_signature, stale, replayed, too_many_nodes, rate_limited)",
    labelNames: ["reason"] as const,
    registers,
  });
  const signedGauge = new Gauge({ name: "smsws_fleet_signed", help: "1 when the node signs and checks fleet messages (FLEET_SIGNING_KEY set), 0 in unsigned mode", registers });
  signedGauge.set(signed ? 1 : 0);
  for (const endpoint of ENDPOINTS) refused.inc({ endpoint }, 0);
  for (const reason of COUNTS_REJECT_REASONS) rejected.inc({ reason }, 0);
  return {
    requestRefused: (endpoint) => refused.inc({ endpoint }),
    countsRejected: (reason) => rejected.inc({ reason }),
  };
}
