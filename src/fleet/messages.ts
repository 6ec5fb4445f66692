/**
 * The fleet's NATS contract: the subjects of the `sms-ws-gateway` micro-service endpoints and of
 * the per-tenant counts the nodes share, and the JSON payloads on them. All subjects are under
 * `sms-ws.fleet.>`, which the gateway and admin NATS users may use (src/bus/permissions.ts);
 * replies go to the requester's inbox (`_INBOX_admin.>` for the CLI).
 *
 * The endpoints run without a queue group: every node answers every request (scatter-gather),
 * and the CLI knows the fleet from the micro-service discovery (`$SRV.PING.sms-ws-gateway`).
 */
import { FLEET_PREFIX, SERVICE_NAME } from "../bus/permissions.js";
import type { Selector } from "./selector.js";

export { FLEET_PREFIX, SERVICE_NAME };

export const FLEET_SUBJECTS = {
  /** Request: a Selector (JSON, `{}` for all). Replies: one or more ConnsChunk per node. */
  conns: `${FLEET_PREFIX}.conns`,
  /** Request: a non-empty Selector. Reply: KickReply (or a service error on an empty selector). */
  kick: `${FLEET_PREFIX}.kick`,
  /** Request: empty. Reply: StatsReply (per-tenant connections and cumulative deliveries). */
  stats: `${FLEET_PREFIX}.stats`,
  /** Published by each node every FLEET_COUNTS_INTERVAL_MS on `<counts>.<node id>`: CountsMessage, signed (fleet-key.ts). */
  counts: `${FLEET_PREFIX}.counts`,
} as const;

/** One authenticated connection, as `sms-ws conns` shows it. */
export interface ConnectionRow {
  /** The node's service id (`nats micro ls`). */
  node: string;
  /** The node's host or pod name. */
  host: string;
  socket: number;
  role: "app" | "admin";
  tenant?: string;
  app?: string;
  /** API keys: the hash prefix (never the key). */
  key?: string;
  /** Connection tokens: the signer and the end user. */
  signer?: string;
  sub?: string;
  address: string;
  /** When the socket opened (ISO 8601). */
  since: string;
  /**
   * Events published to the socket's live topics since it went live (an estimate: see
   * docs/operations-fleet.md; replayed events are not counted).
   */
  delivered: number;
  bufferedBytes: number;
  /** The socket's filter, when the filter feature gives it one. */
  filter?: unknown;
}

export interface NodeReply {
  node: string;
  host: string;
}

export interface ConnsChunk extends NodeReply {
  /** 0-based; a node's answer is complete once chunks `0 .. chunks-1` arrived. */
  chunk: number;
  chunks: number;
  rows: ConnectionRow[];
}

export interface KickReply extends NodeReply {
  kicked: number;
}

export interface TenantStats {
  /** A tenant id, or "*" for admin connections (deliveries to admin sockets count under the event's tenant). */
  tenant: string;
  connections: number;
  /** Socket deliveries since the node started (as smsws_events_delivered_total, but per tenant). */
  delivered: number;
}

export interface StatsReply extends NodeReply {
  /** ms since the epoch, when the node took the numbers. */
  at: number;
  tenants: TenantStats[];
}

export interface CountsMessage {
  node: string;
  /** ms since the epoch on the sender's clock: checked against a window and per node increasing (replays are refused). */
  at: number;
  /** Authenticated app sockets per tenant on this node, for tenants that have a quota. */
  tenants: Record<string, number>;
  /** The node's goodbye at shutdown: the others stop counting its sockets at once. */
  bye?: true;
}

/** Largest JSON body a node puts in one reply message (nats-server's default max_payload is 1 MiB). */
export const MAX_CHUNK_BYTES = 256 * 1024;

/** Rows split into messages of at most MAX_CHUNK_BYTES of JSON each (at least one chunk, maybe empty). */
export function chunkRows(node: NodeReply, rows: readonly ConnectionRow[], maxBytes = MAX_CHUNK_BYTES): ConnsChunk[] {
  const groups: ConnectionRow[][] = [[]];
  let size = 0;
  for (const row of rows) {
    const n = JSON.stringify(row).length + 1;
    const current = groups[groups.length - 1] as ConnectionRow[];
    if (current.length > 0 && size + n > maxBytes) {
      groups.push([row]);
      size = n;
    } else {
      current.push(row);
      size += n;
    }
  }
  return groups.map((g, i) => ({ ...node, chunk: i, chunks: groups.length, rows: g }));
}

export type { Selector };
