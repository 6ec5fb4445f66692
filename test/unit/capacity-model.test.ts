/** bench/capacity-model.mjs on cases small enough to check by hand (docs/scaling.md). */
import { describe, expect, it } from "vitest";
import { adminPool, affinityFleet, benchFigures, DEFAULTS, plan, randomFleet, workload, zipfSizes } from "../../bench/capacity-model.mjs";

/** One app per tenant, no tenant-wide events, no admin: every figure below is arithmetic. */
const tiny = { ...DEFAULTS, appsPerTenant: 1, tenantWideShare: 0, adminSockets: 0, usPerNatsMsg: 0, usPerDelivery: 0, chunk: 1 };

describe("capacity model", () => {
  it("random routing: a feed of n sockets is held by N(1-(1-1/N)^n) nodes", () => {
    const p = { ...tiny, sizes: [2, 1] };
    const tenants = workload(p, 3); // 2 and 1 events/s, proportional to size
    expect(tenants.map((t) => t.rate)).toEqual([2, 1]);
    const r = randomFleet(p, tenants, 3, 2);
    // Tenant 0: 2 sockets on 2 nodes -> 2 x (1 - 1/4) = 1.5 nodes per event; tenant 1: 1 node.
    expect(r.amplification).toBeCloseTo((2 * 1.5 + 1 * 1) / 3, 10);
    // Per node: each of the 4 feeds (2 app + 2 tenant-wide) held with probability 3/4 or 1/2.
    expect(r.subsPerNode).toBeCloseTo(0.75 + 0.75 + 0.5 + 0.5, 10);
  });

  it("affinity: the same tenant's sockets share a node under the bound, so each event reaches one node", () => {
    const p = { ...tiny, sizes: [2] };
    const r = affinityFleet(p, workload(p, 1), 1, 2);
    // The first socket's cap is ceil(1.25 x 1 / 2) = 1, the second's ceil(1.25 x 2 / 2) = 2: same node.
    expect(r.amplification).toBe(1);
    expect(r.subsCluster).toBe(2);
    expect(randomFleet(p, workload(p, 1), 1, 2).amplification).toBe(1.5);
  });

  it("sizes the fleet on the busiest node's CPU: 4 sockets at 0.3 core each need 2 nodes at 70 %", () => {
    // 1 event/s to one app of 4 sockets: 1 write/s each, 300 ms of CPU per write.
    const r = plan({ ...tiny, sizes: [4], usPerWrite: 300_000 }, 1, "random");
    expect(r.nodes).toBe(2);
    expect(r.cpuPerNode).toBeCloseTo(0.6, 10);
    expect(r.amplification).toBeCloseTo(2 * (1 - 1 / 16), 10);
    expect(r.deliveriesPerEvent).toBe(4);
    expect(r.natsServers).toBe(DEFAULTS.natsMinServers);
    expect(r.bottleneck).toBe("node CPU: socket writes");
  });

  it("the admin pool ingests every event: it fits below cpuTarget / usPerNatsMsg events/s, and not above", () => {
    const p = { ...tiny, sizes: [1], adminSockets: 2, usPerNatsMsg: 100, usPerWrite: 1000 };
    // 1000 ev/s: 0.1 core of ingest; each admin socket 10 writes/s x 1 ms = 0.01 core.
    expect(adminPool(p, 1000)).toMatchObject({ feasible: true, nodes: 1, socketsPerNode: 60 });
    expect(adminPool(p, 7000)).toMatchObject({ feasible: false });
  });

  it("Zipf sizes: the research scenario's largest tenant and median", () => {
    const sizes = zipfSizes(2_000_000, 10_000, 1);
    expect(Math.round(sizes[0]! / 100) * 100).toBe(204_300);
    expect(sizes[5000]).toBe(41);
  });

  it("reads marginal CPU and memory figures from a bench results file", () => {
    const step = (received: number, serverCpuMs: number) => ({ pass: true, received, serverCpuMs });
    const results = {
      peers: {
        gateway: {
          scenarios: {
            "many-scopes": { steps: [step(20_000, 1000), step(100_000, 1800)] },
            "admin-firehose": { steps: [step(100_000, 700), step(2_100_000, 1500)] },
            idle: { rssBytesPerSocket: 1800, kernelSlabBytesPerSocketPair: 9000, kernelTcpBufBytesPerSocketPair: 200 },
          },
        },
      },
    };
    expect(benchFigures(results)).toEqual({ usPerWrite: 10, usPerDelivery: 0.4, bytesPerSocket: 1800 + 4600 });
    expect(benchFigures({})).toEqual({});
  });
});
