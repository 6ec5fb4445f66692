import { Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { LatencyHistogram } from "../../src/metrics/latency-histogram.js";
import { createMetrics } from "../../src/metrics/metrics.js";

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

describe("LatencyHistogram", () => {
  it("renders exactly as prom-client's Histogram for the same observations", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const a = new LatencyHistogram("x_seconds", "help text", BUCKETS, [ours]);
    const b = new Histogram({ name: "x_seconds", help: "help text", buckets: BUCKETS, registers: [theirs] });
    // on a bound, between bounds, below the first, above the last, zero
    for (const v of [0, 0.0005, 0.0007, 0.001, 0.003, 0.01, 0.2, 1, 4.9, 10, 11, 250]) {
      a.observe(v);
      b.observe(v);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it("renders the zero series before any observation, as prom-client does", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    new LatencyHistogram("x_seconds", "help text", BUCKETS, [ours]);
    new Histogram({ name: "x_seconds", help: "help text", buckets: BUCKETS, registers: [theirs] });
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it("is the node's fan-out latency metric, and the event counters add up when scraped", async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.fanoutLatency.observe(0.002);
    m.fanoutLatency.observe(0.2);
    m.received("status");
    m.received("status");
    m.delivered("t1", 10);
    let text = await m.registry.metrics();
    expect(text).toContain('smsws_fanout_latency_seconds_bucket{le="0.0025"} 1');
    expect(text).toContain('smsws_fanout_latency_seconds_bucket{le="+Inf"} 2');
    expect(text).toContain("smsws_fanout_latency_seconds_count 2");
    expect(text).toContain('smsws_events_received_total{kind="status"} 2');
    expect(text).toContain('smsws_events_delivered_total{tenant="other"} 10');
    // a second scrape adds only what came since
    m.delivered("t1", 5);
    text = await m.registry.metrics();
    expect(text).toContain('smsws_events_delivered_total{tenant="other"} 15');
    expect(text).toContain('smsws_events_received_total{kind="status"} 2');
  });
});
