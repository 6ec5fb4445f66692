/**
 * The node's side of the fleet on NATS: the `sms-ws-gateway` micro-service (so `nats micro
 * ls|info|stats` lists the fleet) with its endpoints `conns`, `kick` and `stats`, and the
 * per-tenant counts shared every FLEET_COUNTS_INTERVAL_MS for the quotas. What a connection is
 * and how one is closed stays on the server side, behind FleetPort (src/server/fleet-view.ts).
 */
import { Svcm, type Service, type ServiceMsg } from "@nats-io/services";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { NodeIdentity } from "./identity.js";
import { chunkRows, FLEET_SUBJECTS, SERVICE_NAME, type ConnectionRow, type CountsMessage, type KickReply, type NodeReply, type StatsReply, type TenantStats } from "./messages.js";
import type { FleetQuota } from "./quota.js";
import { isEmptySelector, parseSelector, type NodeFacts, type Selector } from "./selector.js";

/** How often each node shares its per-tenant counts (and the quota's budget interval). */
export const FLEET_COUNTS_INTERVAL_MS = 2000;

/** What the fleet needs from the node's sockets. */
export interface FleetPort {
  connections(selector: Selector, node: NodeFacts): ConnectionRow[];
  /** Close the selected connections (4410); how many. */
  kick(selector: Selector, node: NodeFacts): number;
  tenantStats(): TenantStats[];
  /** Authenticated app sockets per tenant on this node. */
  tenantCounts(): ReadonlyMap<string, number>;
}

export interface FleetServiceOptions {
  countsIntervalMs?: number;
}

export class FleetService {
  #service: Service | undefined;
  #countsSub: Subscription | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #intervalMs: number;

  constructor(
    private readonly nc: NatsConnection,
    private readonly identity: NodeIdentity,
    private readonly port: FleetPort,
    private readonly quota: FleetQuota,
    private readonly log: Logger,
    options: FleetServiceOptions = {},
  ) {
    this.#intervalMs = options.countsIntervalMs ?? FLEET_COUNTS_INTERVAL_MS;
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
        const counts = parseCounts(msg.data);
        if (counts === undefined || counts.node === node.id) return;
        if (Object.keys(counts.tenants).length === 0 && counts.at === 0) this.quota.forget(counts.node);
        else this.quota.receive(counts);
      },
    });
    this.#share();
    this.#timer = setInterval(() => this.#share(), this.#intervalMs);
    this.#timer.unref();
    this.log.info({ node: node.id, name: node.name }, "registered in the fleet (nats micro: sms-ws-gateway)");
  }

  /** Says goodbye (the other nodes stop counting our sockets at once) and leaves the service. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    const service = this.#service;
    if (service === undefined) return;
    const goodbye: CountsMessage = { node: service.info().id, at: 0, tenants: {} };
    if (!this.nc.isClosed()) this.nc.publish(`${FLEET_SUBJECTS.counts}.${goodbye.node}`, JSON.stringify(goodbye));
    this.#countsSub?.unsubscribe();
    await service.stop().catch((err: unknown) => this.log.warn({ err }, "stopping the fleet service failed"));
  }

  /** Publish this node's counts of the tenants that have a quota; a new quota interval begins. */
  #share(): void {
    const service = this.#service;
    if (service === undefined || this.nc.isClosed()) return;
    const tenants: Record<string, number> = {};
    for (const [tenantId, n] of this.port.tenantCounts()) if (this.quota.hasQuota(tenantId)) tenants[tenantId] = n;
    const counts: CountsMessage = { node: service.info().id, at: Date.now(), tenants };
    try {
      this.nc.publish(`${FLEET_SUBJECTS.counts}.${counts.node}`, JSON.stringify(counts));
    } catch (err) {
      this.log.warn({ err }, "sharing the fleet counts failed");
    }
    this.quota.shared();
  }

  #conns(err: Error | null, msg: ServiceMsg, node: NodeFacts, reply: NodeReply): void {
    const selector = this.#selector(err, msg);
    if (selector === undefined) return;
    if (msg.reply === undefined || msg.reply === "") return;
    // Several messages to the requester's inbox when the rows do not fit in one.
    for (const chunk of chunkRows(reply, this.port.connections(selector, node))) this.nc.publish(msg.reply, JSON.stringify(chunk));
  }

  #kick(err: Error | null, msg: ServiceMsg, node: NodeFacts, reply: NodeReply): void {
    const selector = this.#selector(err, msg);
    if (selector === undefined) return;
    if (isEmptySelector(selector)) {
      msg.respondError(400, "kick needs a selector (--tenant, --app, --key, --signer, --sub or --node)");
      return;
    }
    const kicked = this.port.kick(selector, node);
    if (kicked > 0) this.log.info({ selector, kicked }, "connections kicked by an operator");
    msg.respond(JSON.stringify({ ...reply, kicked } satisfies KickReply));
  }

  #stats(err: Error | null, msg: ServiceMsg, reply: NodeReply): void {
    if (err !== null) return;
    msg.respond(JSON.stringify({ ...reply, at: Date.now(), tenants: this.port.tenantStats() } satisfies StatsReply));
  }

  #selector(err: Error | null, msg: ServiceMsg): Selector | undefined {
    if (err !== null) return undefined;
    let raw: unknown;
    try {
      raw = msg.data.length === 0 ? {} : msg.json<unknown>();
    } catch {
      msg.respondError(400, "the request is not JSON");
      return undefined;
    }
    const parsed = parseSelector(raw);
    if (!parsed.ok) {
      msg.respondError(400, parsed.problem);
      return undefined;
    }
    return parsed.selector;
  }
}

/**
 * @nats-io/services 3.0.0-25 types its connection with its own (older, 3.0.0-50) copy of
 * nats-core, whose MsgHdrs.get() differs from 3.4.0's in a type only; at run time it only calls
 * subscribe/publish/requestMany on the connection, which both versions share.
 */
function servicesConnection(nc: NatsConnection): ConstructorParameters<typeof Svcm>[0] {
  return nc as unknown as ConstructorParameters<typeof Svcm>[0];
}

/** Counts from another node; undefined when malformed (ignored). */
export function parseCounts(data: Uint8Array): CountsMessage | undefined {
  try {
    const v = JSON.parse(new TextDecoder().decode(data)) as Partial<CountsMessage>;
    if (typeof v.node !== "string" || typeof v.at !== "number" || typeof v.tenants !== "object" || v.tenants === null) return undefined;
    const tenants: Record<string, number> = {};
    for (const [t, n] of Object.entries(v.tenants)) if (typeof n === "number" && Number.isFinite(n) && n >= 0) tenants[t] = n;
    return { node: v.node, at: v.at, tenants };
  } catch {
    return undefined;
  }
}
