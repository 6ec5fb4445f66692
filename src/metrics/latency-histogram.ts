/**
 * A histogram without labels for the per-event path: observe() is a bucket search and three
 * additions, no allocation (prom-client's Histogram.observe builds label objects and hashes them on
 * every call). Its exposition is the same as prom-client's: cumulative `_bucket{le}`, `+Inf`,
 * `_sum`, `_count`, so dashboards and alerts read it unchanged. Every observation is counted (no
 * sampling).
 */
import type { Histogram, Registry } from "prom-client";

interface Value {
  value: number;
  labels: Record<string, string | number>;
  metricName: string;
}

export class LatencyHistogram {
  readonly type = "histogram" as const;
  readonly aggregator = "sum" as const;
  /** Observations per bucket, not cumulative; the last slot is +Inf. */
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[],
    registers: readonly Registry[],
  ) {
    this.#counts = new Float64Array(buckets.length + 1);
    // The registry formats any object with get()/name/help/type; its type only lists its own classes.
    for (const r of registers) r.registerMetric(this as unknown as Histogram);
  }

  observe(value: number): void {
    const b = this.buckets;
    let i = 0;
    while (i < b.length && value > (b[i] as number)) i++;
    this.#counts[i] = (this.#counts[i] as number) + 1;
    this.#sum += value;
    this.#count++;
  }

  /** What prom-client's Registry reads when it renders the metric. */
  get(): { name: string; help: string; type: "histogram"; aggregator: "sum"; values: Value[] } {
    const values: Value[] = [];
    let cumulative = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      cumulative += this.#counts[i] as number;
      values.push({ value: cumulative, labels: { le: this.buckets[i] as number }, metricName: `${this.name}_bucket` });
    }
    values.push({ value: this.#count, labels: { le: "+Inf" }, metricName: `${this.name}_bucket` });
    values.push({ value: this.#sum, labels: {}, metricName: `${this.name}_sum` });
    values.push({ value: this.#count, labels: {}, metricName: `${this.name}_count` });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.#counts.fill(0);
    this.#sum = 0;
    this.#count = 0;
  }
}
