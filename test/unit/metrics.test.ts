import { describe, expect, it } from "vitest";
import { createMetrics } from "../../src/metrics/metrics.js";

async function series(m: ReturnType<typeof createMetrics>, name: string) {
  return (await m.registry.getSingleMetric(name)?.get())?.values ?? [];
}

describe("metrics", () => {
  it("breaks out only allow-listed tenants; everyone else is 'other'", async () => {
    const m = createMetrics({ tenants: ["big"], defaultMetrics: false });
    m.delivered("big", 3);
    m.delivered("small", 2);
    m.delivered("tiny", 0);
    const values = await series(m, "smsws_events_delivered_total");
    expect(values.map((v) => [v.labels.tenant, v.value]).sort()).toEqual([["big", 3], ["other", 2]]);
  });

  it("starts every known label value at zero", async () => {
    const m = createMetrics({ defaultMetrics: false });
    const rejected = await series(m, "smsws_events_rejected_total");
    expect(rejected.map((v) => v.labels.reason).sort()).toEqual(
      ["app_mismatch", "bad_id", "bad_subject", "bad_value", "decode", "foreign_stream", "missing_field", "tenant_mismatch", "too_large", "type_mismatch"],
    );
    expect((await series(m, "smsws_auth_total")).map((v) => v.labels.outcome).sort()).toEqual(
      ["bad_request", "invalid_key", "ok", "revoked", "tenant_limit", "tenant_quota", "timeout", "token_expired", "token_invalid", "token_ok", "token_revoked", "wrong_pool"],
    );
    m.received("status");
    expect((await series(m, "smsws_events_received_total")).find((v) => v.labels.kind === "status")?.value).toBe(1);
  });
});
