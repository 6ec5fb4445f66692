/**
 * The node's connections as the fleet sees them (src/fleet/fleet-service.ts FleetPort): rows for
 * `sms-ws conns`, the kick, per-tenant stats and counts. A walk over all sockets per request,
 * off the event path (an operator's request, not a client's).
 */
import { hashPrefix } from "../keys/key-record.js";
import type { ConnectionRow, TenantStats } from "../fleet/messages.js";
import type { FleetPort } from "../fleet/fleet-service.js";
import { selects, selectsNode, type ConnectionFacts, type NodeFacts, type Selector } from "../fleet/selector.js";
import { Refusals } from "../protocol/refusal.js";
import type { Admission } from "./admission.js";
import type { AuditLog } from "./audit.js";
import type { DeliveryCounters } from "./delivery-counters.js";
import type { SocketData, SocketRegistry } from "./sockets.js";

/** The tenant column of admin connections. */
export const ADMIN_TENANT = "*";

export class FleetView implements FleetPort {
  constructor(
    private readonly sockets: SocketRegistry,
    private readonly counters: DeliveryCounters,
    private readonly admission: Admission,
    private readonly audit: AuditLog,
  ) {}

  connections(selector: Selector, node: NodeFacts): ConnectionRow[] {
    if (!selectsNode(selector, node)) return [];
    const rows: ConnectionRow[] = [];
    for (const ws of this.sockets) {
      const data = ws.getUserData();
      const facts = factsOf(data);
      if (facts === undefined || !selects(selector, node, facts)) continue;
      rows.push(this.#row(data, facts, node, ws.getBufferedAmount()));
    }
    return rows;
  }

  kick(selector: Selector, node: NodeFacts): number {
    if (!selectsNode(selector, node)) return 0;
    const n = this.sockets.refuseWhere((data) => {
      const facts = factsOf(data);
      return facts !== undefined && selects(selector, node, facts);
    }, Refusals.kicked);
    if (n > 0) this.audit.write({ ...selector, sockets: n }, "connections kicked by an operator");
    return n;
  }

  tenantStats(): TenantStats[] {
    const byTenant = new Map<string, TenantStats>();
    const entry = (tenant: string): TenantStats => {
      let s = byTenant.get(tenant);
      if (s === undefined) byTenant.set(tenant, (s = { tenant, connections: 0, delivered: 0 }));
      return s;
    };
    for (const ws of this.sockets) {
      const scope = ws.getUserData().scope;
      const state = ws.getUserData().state;
      if (scope === undefined || (state !== "authenticated" && state !== "subscribing")) continue;
      entry(scope.role === "app" ? scope.tenantId : ADMIN_TENANT).connections++;
    }
    for (const [tenant, delivered] of this.counters.tenants()) entry(tenant).delivered = delivered;
    return [...byTenant.values()];
  }

  tenantCounts(): ReadonlyMap<string, number> {
    return this.admission.tenantCounts();
  }

  #row(data: SocketData, facts: ConnectionFacts, node: NodeFacts, bufferedBytes: number): ConnectionRow {
    const c = facts.credential;
    // A live socket holds its feeds, so their counters only grow while it is open: sum minus sum.
    const now = this.counters.sum(data.feeds ?? []);
    const delivered = Math.max(0, now - (data.liveAt ?? now));
    return {
      node: node.id,
      host: node.name,
      socket: data.id,
      role: facts.tenant === undefined ? "admin" : "app",
      ...(facts.tenant === undefined ? {} : { tenant: facts.tenant }),
      ...(facts.app === undefined ? {} : { app: facts.app }),
      ...(c.kind === "key" ? { key: hashPrefix(c.hash) } : { signer: c.kid, ...(c.sub === undefined ? {} : { sub: c.sub }) }),
      address: data.ip,
      since: new Date(data.openedAt).toISOString(),
      delivered,
      bufferedBytes,
    };
  }
}

/** What selectors look at; undefined for a socket that is not (or no longer) authenticated. */
function factsOf(data: SocketData): ConnectionFacts | undefined {
  if (data.state !== "authenticated" && data.state !== "subscribing") return undefined;
  const { scope, credential } = data;
  if (scope === undefined || credential === undefined) return undefined;
  return {
    tenant: scope.role === "app" ? scope.tenantId : undefined,
    app: scope.role === "app" ? scope.appId : undefined,
    credential: credential.kind === "key" ? { kind: "key", hash: credential.hash } : { kind: "token", kid: credential.kid, sub: credential.sub },
  };
}
