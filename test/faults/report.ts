/**
 * Fault and hostile-input suites record what they did here; `npm run test:faults` prints the
 * rows as one summary table. Rows go to the file named by FAULTS_REPORT (JSON lines), if set.
 */
import { appendFileSync } from "node:fs";

export interface FaultRow {
  /** Suite and scenario, e.g. "nats-cluster: kill one server". */
  scenario: string;
  /** Faults injected (kills, pauses, cuts, malformed frames, bad payloads...). */
  faults: number;
  /** Events published by the producer (acknowledged ones on the durable path). */
  published: number;
  /** Events delivered to clients (sum over clients of distinct events received). */
  delivered: number;
  /** Expected deliveries that never arrived. Must be 0. */
  lost: number;
  /** Deliveries seen twice by the SDK. Must be 0. */
  duplicated: number;
  /** Gateway processes that crashed or stopped answering. Must be 0. */
  crashes: number;
}

export function recordFaults(row: FaultRow): void {
  const file = process.env.FAULTS_REPORT;
  if (file) appendFileSync(file, `${JSON.stringify(row)}\n`);
}
