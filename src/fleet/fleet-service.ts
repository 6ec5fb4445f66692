/**
 * The node's side of the fleet on NATS: the `sms-ws-gateway` micro-service (so `nats micro
 * ls|info|stats` lists the fleet) with its endpoints `conns`, `kick` and `stats`, and the
 * per-tenant counts shared every FLEET_COUNTS_INTERVAL_MS for the quotas. What a connection is
 * and how one is closed stays on the server side, behind FleetPort (src/server/fleet-view.ts).
 *
 * Trust (docs/operations-fleet.md, "Who can send what"): a request is served only when its reply
 * subject is an operator's (operator-reply.ts); every answer and every counts message is signed
 * with the fleet key when the node has one (fleet-key.ts); counts from other nodes pass the
 * CountsGate (signature, window, replay) before the quota sees them.
 */
import type { KeyObject } from "node:crypto";
import { Svcm, type Service, type ServiceMsg } from "@nats-io/services";
import { headers, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { CountsGate, type CountsRejectReason } from "./counts-gate.js";
import { countsContext, FLEET_NONCE_HEADER, FLEET_SIGNATURE_HEADER, NONCE_PATTERN, replyContext, signFleet, type FleetSigningKey } from "./fleet-key.js";
import type { NodeIdentity } from "./identity.js";
import { chunkRows, FLEET_SUBJECTS, SERVICE_NAME, type ConnectionRow, type CountsMessage, type KickReply, type NodeReply, type StatsReply, type TenantStats } from "./messages.js";
import { isOperatorReply } from "./operator-reply.js";
import type { FleetQuota } from "./quota.js";
import { isEmptySelector, parseSelector, type NodeFacts, type Selector } from "./selector.js";

/** How often each node shares its per-tenant counts (and the quota's budget interval). */
export const FLEET_COUNTS_INTERVAL_MS = 2000;
/** A refusal of the same kind is logged at most once per this many ms (the rest are counted). */
const WARN_EVERY_MS = 10_000;

export type FleetEndpoint = "conns" | "kick" | "stats";

/** What the fleet needs from the node's sockets. */
export interface FleetPort {
  connections(selector: Selector, node: NodeFacts): ConnectionRow[];
  /** Close the selected connections (4410); how many. */
  kick(selector: Selector, node: NodeFacts): number;
  tenantStats(): TenantStats[];
  /** Authenticated app sockets per tenant on this node. */
  tenantCounts(): ReadonlyMap<string, number>;
}

/** What the fleet tells the metrics (smsws_fleet_*). */
export interface FleetMetrics {
  /** A request dropped: its reply subject is not an operator's. */
  requestRefused(endpoint: FleetEndpoint): void;
  /** Another node's counts message refused by the gate. */
  countsRejected(reason: CountsRejectReason): void;
}

export interface FleetTrust {
  /** FLEET_SIGNING_KEY; undefined: unsigned mode (dev). */
  signingKey: FleetSigningKey | undefined;
  /** FLEET_PUBLIC_KEY: more keys whose counts are believed (the other key during a rotation). */
  publicKeys: readonly KeyObject[];
}

export interface FleetServiceOptions {
  countsIntervalMs?: number;
}

export class FleetService {
  #service: Service | undefined;
  #countsSub: Subscription | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #intervalMs: number;
  readonly #gate: CountsGate;
  readonly #warnedAt = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly identity: NodeIdentity,
    private readonly port: FleetPort,
    private readonly quota: FleetQuota,
    private readonly trust: FleetTrust,
    private readonly metrics: FleetMetrics,
    private readonly log: Logger,
    options: FleetServiceOptions = {},
  ) {
    this.#intervalMs = options.countsIntervalMs ?? FLEET_COUNTS_INTERVAL_MS;
    const key = trust.signingKey;
    this.#gate = new CountsGate({ keys: key === undefined ? undefined : [key.publicKey, ...trust.publicKeys] });
  }

  /** The node's id in the fleet: its micro-service id (`nats micro ls`). */
  get id(): string {
    if (this.#service === undefined) throw new Error("fleet service not started");
    return this.#service.info().id;
  }

  /** Registers the service and starts sharing counts. */
  async start(): Promise<void> {
    const service = await new Svcm(servicesConnection(this.nc)).add({
      name: SERVICE_NAME,
      version: this.identity.version,
      description: "sms-ws-gateway node: connections, kick, per-tenant stats",
      metadata: { ...this.identity.metadata },
      // No queue group: every node answers every request (the CLI gathers them all).
      queue: "",
    });
    this.#service = service;
    const node: NodeFacts = { id: service.info().id, name: this.identity.name };
    const reply: NodeReply = { node: node.id, host: node.name };
    service.addEndpoint("conns", { subject: FLEET_SUBJECTS.conns, handler: (err, msg) => this.#conns(err, msg, node, reply) });
    service.addEndpoint("kick", { subject: FLEET_SUBJECTS.kick, handler: (err, msg) => this.#kick(err, msg, node, reply) });
    service.addEndpoint("stats", { subject: FLEET_SUBJECTS.stats, handler: (err, msg) => this.#stats(err, msg, reply) });

    this.#countsSub = this.nc.subscribe(`${FLEET_SUBJECTS.counts}.*`, {
      callback: (err, msg) => {
        if (err !== null) return;
        const verdict = this.#gate.check(msg.subject, msg.data, msg.headers?.get(FLEET_SIGNATURE_HEADER) || undefined);
        if (!verdict.ok) {
          this.metrics.countsRejected(verdict.reason);
          this.#warn(`counts:${verdict.reason}`, { subject: msg.subject, reason: verdict.reason }, "fleet counts refused (not a node of this fleet, or replayed)");
          return;
        }
        const counts = verdict.counts;
        if (counts.node === node.id) return;
        if (counts.bye === true) this.quota.forget(counts.node);
        else this.quota.receive(counts);
      },
    });
    this.#share();
    this.#timer = setInterval(() => this.#share(), this.#intervalMs);
    this.#timer.unref();
    if (this.trust.signingKey === undefined) {
      this.log.warn("FLEET_SIGNING_KEY is not set: fleet answers and quota counts are unsigned, so anyone holding the gateway NATS password can pose as a node (dev only; see docs/operations-fleet.md)");
    }
    this.log.info({ node: node.id, name: node.name, signed: this.trust.signingKey !== undefined }, "registered in the fleet (nats micro: sms-ws-gateway)");
  }

  /** Says goodbye (the other nodes stop counting our sockets at once) and leaves the service. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    const service = this.#service;
    if (service === undefined) return;
    if (!this.nc.isClosed()) this.#publishCounts({ node: service.info().id, at: Date.now(), tenants: {}, bye: true });
    this.#countsSub?.unsubscribe();
    await service.stop().catch((err: unknown) => this.log.warn({ err }, "stopping the fleet service failed"));
  }

  /** Publish this node's counts of the tenants that have a quota; a new quota interval begins. */
  #share(): void {
    const service = this.#service;
    if (service === undefined || this.nc.isClosed()) return;
    const tenants: Record<string, number> = {};
    for (const [tenantId, n] of this.port.tenantCounts()) if (this.quota.hasQuota(tenantId)) tenants[tenantId] = n;
    this.#publishCounts({ node: service.info().id, at: Date.now(), tenants });
    this.quota.shared();
  }

  #publishCounts(counts: CountsMessage): void {
    const subject = `${FLEET_SUBJECTS.counts}.${counts.node}`;
    const body = JSON.stringify(counts);
    try {
      this.nc.publish(subject, body, this.#signed(countsContext(subject), body));
    } catch (err) {
      this.log.warn({ err }, "sharing the fleet counts failed");
    }
  }

  #conns(err: Error | null, msg: ServiceMsg, node: NodeFacts, reply: NodeReply): void {
    const selector = this.#request("conns", err, msg);
    if (selector === undefined) return;
    // Several messages to the requester's inbox when the rows do not fit in one.
    for (const chunk of chunkRows(reply, this.port.connections(selector, node))) this.#answer(msg, JSON.stringify(chunk));
  }

  #kick(err: Error | null, msg: ServiceMsg, node: NodeFacts, reply: NodeReply): void {
    const selector = this.#request("kick", err, msg);
    if (selector === undefined) return;
    if (isEmptySelector(selector)) {
      this.#answerError(msg, 400, "kick needs a selector (--tenant, --app, --key, --signer, --sub or --node)");
      return;
    }
    const kicked = this.port.kick(selector, node);
    if (kicked > 0) this.log.info({ selector, kicked }, "connections kicked by an operator");
    this.#answer(msg, JSON.stringify({ ...reply, kicked } satisfies KickReply));
  }

  #stats(err: Error | null, msg: ServiceMsg, reply: NodeReply): void {
    if (this.#request("stats", err, msg) === undefined) return;
    this.#answer(msg, JSON.stringify({ ...reply, at: Date.now(), tenants: this.port.tenantStats() } satisfies StatsReply));
  }

  /** The selector of an operator's request; undefined when the request is not served (dropped, or answered with an error). */
  #request(endpoint: FleetEndpoint, err: Error | null, msg: ServiceMsg): Selector | undefined {
    if (err !== null) return undefined;
    if (!isOperatorReply(msg.reply)) {
      this.metrics.requestRefused(endpoint);
      this.#warn(`request:${endpoint}`, { subject: msg.subject, reply: msg.reply ?? null }, "fleet request dropped: its reply subject is not an operator's inbox");
      return undefined;
    }
    if (endpoint === "stats") return {};
    let raw: unknown;
    try {
      raw = msg.data.length === 0 ? {} : msg.json<unknown>();
    } catch {
      this.#answerError(msg, 400, "the request is not JSON");
      return undefined;
    }
    const parsed = parseSelector(raw);
    if (!parsed.ok) {
      this.#answerError(msg, 400, parsed.problem);
      return undefined;
    }
    return parsed.selector;
  }

  /** An answer to the operator, signed over the request's nonce. */
  #answer(msg: ServiceMsg, body: string): void {
    this.nc.publish(msg.reply as string, body, this.#signed(replyContext(nonceOf(msg)), body));
  }

  /** A service error (`Nats-Service-Error`), its code and text signed like an answer. */
  #answerError(msg: ServiceMsg, code: number, description: string): void {
    const options = this.#signed(replyContext(nonceOf(msg), true), `${code} ${description}`) ?? { headers: headers() };
    options.headers.set("Nats-Service-Error-Code", String(code));
    options.headers.set("Nats-Service-Error", description);
    this.nc.publish(msg.reply as string, "", options);
  }

  #signed(context: string, body: string): { headers: ReturnType<typeof headers> } | undefined {
    const key = this.trust.signingKey;
    if (key === undefined) return undefined;
    const h = headers();
    h.set(FLEET_SIGNATURE_HEADER, signFleet(key, context, body));
    return { headers: h };
  }

  /** Warn about a refusal, at most once per WARN_EVERY_MS per kind (a flood is counted, not logged line by line). */
  #warn(kind: string, fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    const last = this.#warnedAt.get(kind);
    if (last !== undefined && now - last.at < WARN_EVERY_MS) {
      last.suppressed++;
      return;
    }
    this.#warnedAt.set(kind, { at: now, suppressed: 0 });
    this.log.warn({ ...fields, suppressedSinceLast: last?.suppressed ?? 0 }, message);
  }
}

/** The CLI's nonce of a request ("" when absent or malformed: such answers verify against no CLI request). */
function nonceOf(msg: ServiceMsg): string {
  const nonce = msg.headers?.get(FLEET_NONCE_HEADER) ?? "";
  return NONCE_PATTERN.test(nonce) ? nonce : "";
}

/**
 * @nats-io/services 3.0.0-25 types its connection with its own (older, 3.0.0-50) copy of
 * nats-core, whose MsgHdrs.get() differs from 3.4.0's in a type only; at run time it only calls
 * subscribe/publish/requestMany on the connection, which both versions share.
 */
function servicesConnection(nc: NatsConnection): ConstructorParameters<typeof Svcm>[0] {
  return nc as unknown as ConstructorParameters<typeof Svcm>[0];
}
