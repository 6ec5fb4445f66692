/**
 * `sms-ws conns|kick|top`: the fleet as one system (docs/operations-fleet.md). Each command gathers the
 * answers of every node (fleet-client.ts), prints them, and names the nodes that did not answer
 * (exit code 3 then, so scripts notice a partial answer). With the fleet public key
 * (FLEET_PUBLIC_KEY or --fleet-public-key) only signed answers count; unsigned or wrongly signed
 * ones are set aside and reported (exit code 4); without it, every answer is printed as unverified.
 */
import type { KeyObject } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Config } from "../config/config.js";
import { fleetKeys, parsePublicKeys } from "../fleet/fleet-key.js";
import { FLEET_SUBJECTS, type ConnectionRow, type ConnsChunk, type KickReply, type StatsReply } from "../fleet/messages.js";
import { isEmptySelector, parseSelector, SELECTOR_FIELDS, type Selector } from "../fleet/selector.js";
import { stringFlag, unexpectedArgs, type ParsedArgs } from "./args.js";
import { cliConnect } from "./connect.js";
import { gather, type FleetNode, type GatherOptions } from "./fleet-client.js";

/** A node answered only in part or not at all. */
export const EXIT_PARTIAL = 3;
/** Answers not signed by the fleet key were seen (and set aside): someone poses as a node, or a node has another key. */
export const EXIT_UNVERIFIED = 4;

/** What every fleet result says about the answers' origin. */
export interface Provenance {
  /** The answers were checked against the fleet public key. */
  verified: boolean;
  /** Answers set aside because their signature did not check. */
  unverified: number;
}

export interface ConnsResult extends Provenance {
  rows: ConnectionRow[];
  nodes: FleetNode[];
  missing: FleetNode[];
}

export async function listConnections(nc: NatsConnection, selector: Selector, options: GatherOptions = {}): Promise<ConnsResult> {
  const g = await gather<ConnsChunk>(nc, FLEET_SUBJECTS.conns, selector, options, (chunks) => chunks.length >= (chunks[0]?.chunks ?? 1));
  const rows = g.replies.flatMap((c) => c.rows).sort((a, b) => a.node.localeCompare(b.node) || a.socket - b.socket);
  return { rows, nodes: g.nodes, missing: g.missing, verified: g.verified, unverified: g.unverified };
}

export interface KickResult extends Provenance {
  kicked: number;
  byNode: KickReply[];
  nodes: FleetNode[];
  missing: FleetNode[];
  errors: string[];
}

export async function kickConnections(nc: NatsConnection, selector: Selector, options: GatherOptions = {}): Promise<KickResult> {
  if (isEmptySelector(selector)) throw new Error("kick needs a selector: --tenant, --app, --key, --signer, --sub or --node (it never kicks everyone)");
  const g = await gather<KickReply>(nc, FLEET_SUBJECTS.kick, selector, options);
  const kicked = g.replies.reduce((n, r) => n + (Number.isSafeInteger(r.kicked) ? r.kicked : 0), 0);
  return { kicked, byNode: g.replies, nodes: g.nodes, missing: g.missing, errors: g.errors.map((e) => e.error), verified: g.verified, unverified: g.unverified };
}

export interface TopRow {
  tenant: string;
  connections: number;
  /** Socket deliveries per second over the sample interval, summed over the fleet. */
  perSecond: number;
  /** Socket deliveries since the nodes started (the last sample), summed over the fleet. */
  delivered: number;
}

export interface TopSample extends Provenance {
  rows: TopRow[];
  totals: { connections: number; perSecond: number; delivered: number };
  nodes: FleetNode[];
  missing: FleetNode[];
}

export function statsOnce(nc: NatsConnection, options: GatherOptions = {}): Promise<{ replies: StatsReply[]; nodes: FleetNode[]; missing: FleetNode[] } & Provenance> {
  return gather<StatsReply>(nc, FLEET_SUBJECTS.stats, {}, options);
}

/** Per-tenant rows from two stats samples (deliveries per second from the difference). */
export function topRows(before: readonly StatsReply[], after: readonly StatsReply[]): TopRow[] {
  const previous = new Map(before.map((r) => [r.node, r]));
  const rows = new Map<string, TopRow>();
  for (const now of after) {
    const then = previous.get(now.node);
    const seconds = then === undefined ? 0 : (now.at - then.at) / 1000;
    const earlier = new Map((then?.tenants ?? []).map((t) => [t.tenant, t.delivered]));
    for (const t of now.tenants) {
      const row = rows.get(t.tenant) ?? { tenant: t.tenant, connections: 0, perSecond: 0, delivered: 0 };
      row.connections += t.connections;
      row.delivered += t.delivered;
      if (seconds > 0) row.perSecond += Math.max(0, t.delivered - (earlier.get(t.tenant) ?? 0)) / seconds;
      rows.set(t.tenant, row);
    }
  }
  return [...rows.values()].filter((r) => r.connections > 0 || r.perSecond > 0).sort((a, b) => b.connections - a.connections || b.perSecond - a.perSecond || a.tenant.localeCompare(b.tenant));
}

export async function topSample(nc: NatsConnection, before: readonly StatsReply[], options: GatherOptions = {}): Promise<{ sample: TopSample; replies: StatsReply[] }> {
  const g = await statsOnce(nc, options);
  const rows = topRows(before, g.replies);
  const totals = rows.reduce((t, r) => ({ connections: t.connections + r.connections, perSecond: t.perSecond + r.perSecond, delivered: t.delivered + r.delivered }), { connections: 0, perSecond: 0, delivered: 0 });
  return { sample: { rows, totals, nodes: g.nodes, missing: g.missing, verified: g.verified, unverified: g.unverified }, replies: g.replies };
}

export function selectorOf(args: ParsedArgs): Selector {
  const raw: Record<string, string> = {};
  for (const f of SELECTOR_FIELDS) {
    const v = args.flags.get(f);
    if (v === true) throw new Error(`--${f} needs a value`);
    if (v !== undefined) raw[f] = v;
  }
  const parsed = parseSelector(raw);
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.selector;
}

export async function fleetCommand(config: Config, args: ParsedArgs, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const command = args.positionals[0];
  const shared = ["json", "timeout", "fleet-public-key"];
  const problem = unexpectedArgs(args, 1, command === "top" ? [...shared, "once", "interval"] : [...shared, ...SELECTOR_FIELDS]);
  if (problem !== undefined) throw new Error(`${command}: ${problem}`);
  const json = args.flags.has("json");
  const timeout = stringFlag(args, "timeout");
  const publicKeys = fleetPublicKeys(config, args);
  const options: GatherOptions = { ...(timeout === undefined ? {} : { timeoutMs: positive("--timeout", timeout) }), ...(publicKeys.length === 0 ? {} : { publicKeys }) };
  // Checked before connecting: a kick without a selector never reaches NATS.
  const selector = command === "top" ? {} : selectorOf(args);
  if (command === "kick" && isEmptySelector(selector)) throw new Error("kick needs a selector: --tenant, --app, --key, --signer, --sub or --node (it never kicks everyone)");
  const nc = await cliConnect(config, "admin");
  try {
    if (command === "conns") {
      const r = await listConnections(nc, selector, options);
      if (json) out(JSON.stringify(r));
      else printConns(r.rows, out);
      return report(r, err);
    }
    if (command === "kick") {
      const r = await kickConnections(nc, selector, options);
      if (json) out(JSON.stringify(r));
      else out(`kicked ${r.kicked} connection(s) on ${r.byNode.length} node(s) (close 4410; keys stay valid)`);
      for (const e of r.errors) err(`a node refused: ${e}`);
      return report(r, err);
    }
    return await top(nc, args, options, out, err);
  } finally {
    await nc.close();
  }
}

async function top(nc: NatsConnection, args: ParsedArgs, options: GatherOptions, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const interval = stringFlag(args, "interval");
  const intervalMs = interval === undefined ? (args.flags.has("once") ? 1000 : 2000) : positive("--interval", interval);
  let before = (await statsOnce(nc, options)).replies;
  for (;;) {
    await new Promise((r) => setTimeout(r, intervalMs));
    const { sample, replies } = await topSample(nc, before, options);
    before = replies;
    if (args.flags.has("once")) {
      if (args.flags.has("json")) out(JSON.stringify(sample));
      else printTop(sample, out);
      return report(sample, err);
    }
    // A live view: clear the screen, home the cursor, redraw.
    out(`\x1b[2J\x1b[H${new Date().toISOString()}  sms-ws top (every ${intervalMs} ms, Ctrl-C to quit)`);
    printTop(sample, out);
    if (sample.missing.length > 0) out(`no answer from: ${sample.missing.map(nodeName).join(", ")}`);
    if (!sample.verified) out(UNVERIFIED_NOTE);
    else if (sample.unverified > 0) out(`${sample.unverified} answer(s) not signed by the fleet key were ignored`);
  }
}

function printConns(rows: readonly ConnectionRow[], out: (line: string) => void): void {
  const header = ["NODE", "HOST", "SOCKET", "TENANT", "APP", "ROLE", "KEY/SIGNER", "SUB", "ADDRESS", "SINCE", "DELIVERED", "BUFFERED", "FILTER"];
  const lines = rows.map((r) => [
    r.node.slice(0, 8),
    r.host,
    String(r.socket),
    r.tenant ?? "*",
    r.app ?? "*",
    r.role,
    r.key ?? (r.signer === undefined ? "" : `signer:${r.signer}`),
    r.sub ?? "",
    r.address,
    r.since,
    String(r.delivered),
    String(r.bufferedBytes),
    r.filter === undefined ? "" : JSON.stringify(r.filter),
  ]);
  table([header, ...lines], out);
  out(`${rows.length} connection(s)`);
}

function printTop(s: TopSample, out: (line: string) => void): void {
  const lines = s.rows.map((r) => [r.tenant, String(r.connections), r.perSecond.toFixed(1), String(r.delivered)]);
  table([["TENANT", "CONNECTIONS", "DELIVERIES/S", "DELIVERED"], ...lines, ["total", String(s.totals.connections), s.totals.perSecond.toFixed(1), String(s.totals.delivered)]], out);
  out(`${s.nodes.length - s.missing.length} of ${s.nodes.length} node(s) answered`);
}

function table(rows: readonly string[][], out: (line: string) => void): void {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  for (const r of rows) out(r.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd());
}

const UNVERIFIED_NOTE = "UNVERIFIED: no FLEET_PUBLIC_KEY (or --fleet-public-key): these answers are not checked, and anyone holding the gateway NATS password can answer as a node";

/** The fleet public keys: --fleet-public-key wins over FLEET_PUBLIC_KEY. */
function fleetPublicKeys(config: Config, args: ParsedArgs): readonly KeyObject[] {
  const flag = stringFlag(args, "fleet-public-key");
  if (flag === undefined) return fleetKeys("", config.fleetPublicKey).publicKeys;
  const parsed = parsePublicKeys(flag);
  if (!parsed.ok || parsed.key.length === 0) throw new Error(`--fleet-public-key needs ${parsed.ok ? "a key" : parsed.problem}`);
  return parsed.key;
}

/** Says what was not verified or not answered; the exit code (4 over 3 over 0). */
function report(r: Provenance & { missing: readonly FleetNode[]; nodes: readonly FleetNode[] }, err: (line: string) => void): number {
  const missing = reportMissing(r.missing, r.nodes, err);
  if (!r.verified) {
    err(UNVERIFIED_NOTE);
    return missing;
  }
  if (r.unverified === 0) return missing;
  err(`ignored ${r.unverified} answer(s) not signed by the fleet key for this request: someone holding the gateway NATS password may be posing as a node (or a node runs with another FLEET_SIGNING_KEY); discovery answers are not signed, so a node named as missing may be such an impostor`);
  return EXIT_UNVERIFIED;
}

function reportMissing(missing: readonly FleetNode[], nodes: readonly FleetNode[], err: (line: string) => void): number {
  if (nodes.length === 0) err("no gateway node answered the discovery ($SRV.PING.sms-ws-gateway): is the fleet up, and NATS_URL right?");
  if (missing.length === 0) return nodes.length === 0 ? EXIT_PARTIAL : 0;
  err(`no (complete) answer from ${missing.length} node(s): ${missing.map(nodeName).join(", ")}`);
  return EXIT_PARTIAL;
}

function nodeName(n: FleetNode): string {
  return n.host === "" ? n.id : `${n.id} (${n.host})`;
}

function positive(flag: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${flag} needs a positive number of milliseconds, got ${JSON.stringify(raw)}`);
  return n;
}
