import { configDefaults, defineConfig } from "vitest/config";

// Projects: fast unit tests of the decision logic; integration tests against real nats-server
// processes, real uWS sockets and a different WebSocket client (ws); the measured ones (latency
// bounds, run alone at the end); the fault suite (npm run test:faults).
const MEASURED = ["test/integration/floods.test.ts"];

export default defineConfig({
  test: {
    // Integration files each start their own nats-server(s); two cores: modest parallelism.
    maxWorkers: 2,
    minWorkers: 1,
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          exclude: [...configDefaults.exclude, ...MEASURED],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 60_000,
          pool: "forks",
        },
      },
      {
        // Tests that assert a latency bound against a baseline measured in the same run: alone,
        // after the other projects (groupOrder), one file at a time, so no other test file
        // competes for the two cores while they measure.
        test: {
          name: "measured",
          include: MEASURED,
          environment: "node",
          testTimeout: 120_000,
          hookTimeout: 60_000,
          pool: "forks",
          poolOptions: { forks: { singleFork: true } },
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: "faults",
          include: ["test/faults/**/*.test.ts"],
          environment: "node",
          testTimeout: 300_000,
          hookTimeout: 120_000,
          pool: "forks",
        },
      },
    ],
    coverage: {
      provider: "v8",
      include: ["src/**/*.ts"],
      exclude: ["src/cli/**", "src/dev/**"],
      // The decision logic (who may receive what, what a frame means, what a payload is) must
      // stay covered: `npm run test:coverage` fails below these.
      thresholds: {
        "src/protocol/**": { lines: 95, branches: 90 },
        "src/scope/**": { lines: 95, branches: 90 },
        "src/events/**": { lines: 95, branches: 90 },
        "src/config/**": { lines: 95, branches: 90 },
        "src/server/admission.ts": { lines: 95, branches: 90 },
        "src/server/client-address.ts": { lines: 95, branches: 90 },
        "src/net/**": { lines: 95, branches: 90 },
        "src/bus/**": { lines: 90 },
        "src/resume/**": { lines: 90 },
      },
    },
  },
});
