/**
 * The CLI side of the fleet: scatter-gather over the `sms-ws-gateway` micro-service. One request
 * goes to an endpoint subject that every node serves (no queue group), with a reply inbox under
 * the admin user's `_INBOX_admin`; replies are collected until every node the micro-service
 * discovery (`$SRV.PING.sms-ws-gateway`, sent at the same time) found has answered in full, or
 * the deadline passes. The nodes that were discovered but did not answer are named.
 *
 * With the fleet public key, only answers signed by the fleet key over this request's random
 * nonce count (fleet-key.ts); the others are set aside as `unverified` and never shown as a
 * node's. The discovery answers (`$SRV.PING`) are not signed: a node they name only counts once
 * it answers with a valid signature, else it is listed as missing.
 */
import { randomBytes, type KeyObject } from "node:crypto";
import { createInbox, headers, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { PERMISSIONS } from "../bus/permissions.js";
import { FLEET_NONCE_HEADER, FLEET_SIGNATURE_HEADER, replyContext, verifyFleet } from "../fleet/fleet-key.js";
import { SERVICE_NAME, type NodeReply } from "../fleet/messages.js";

export interface FleetNode {
  id: string;
  host: string;
}

export interface Gathered<T> {
  replies: T[];
  /** Nodes that answered with an error (e.g. a selector they refused). */
  errors: { node: string; error: string }[];
  /** Every node known: discovered, or answering. */
  nodes: FleetNode[];
  /** Discovered but without a complete answer by the deadline. */
  missing: FleetNode[];
  /** Whether answers were checked against the fleet public key. */
  verified: boolean;
  /** Answers set aside: not signed by the fleet key for this request (an impostor's, or a node with another key). */
  unverified: number;
}

export interface GatherOptions {
  /** The deadline for every answer (default 3000 ms). */
  timeoutMs?: number;
  /** How long PING answers are awaited before the fleet is taken as known (default 500 ms). */
  discoveryMs?: number;
  /** FLEET_PUBLIC_KEY: accept only answers signed by one of these; undefined or empty: accept all, unverified. */
  publicKeys?: readonly KeyObject[];
}

/** A node's answer is complete (conns answers come in chunks). */
export type Complete<T> = (replies: readonly T[]) => boolean;

const SERVICE_ERROR = "Nats-Service-Error";
const SERVICE_ERROR_CODE = "Nats-Service-Error-Code";
const one = (): boolean => true;

export function gather<T extends NodeReply>(nc: NatsConnection, subject: string, request: unknown, options: GatherOptions = {}, complete: Complete<T> = one): Promise<Gathered<T>> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const discoveryMs = Math.min(options.discoveryMs ?? 500, timeoutMs);
  const prefix = PERMISSIONS.admin.inboxPrefix;
  const pingInbox = createInbox(prefix);
  const replyInbox = createInbox(prefix);
  const nodes = new Map<string, FleetNode>();
  const byNode = new Map<string, T[]>();
  const done = new Set<string>();
  const errors: { node: string; error: string }[] = [];
  const keys = options.publicKeys !== undefined && options.publicKeys.length > 0 ? options.publicKeys : undefined;
  const nonce = randomBytes(16).toString("base64url");
  let unverified = 0;
  let discovered = false;

  return new Promise((resolve) => {
    const finish = (): void => {
      clearTimeout(deadline);
      clearTimeout(discovery);
      pings.unsubscribe();
      replies.unsubscribe();
      resolve({
        replies: [...byNode.values()].flat(),
        errors,
        nodes: [...nodes.values()],
        missing: [...nodes.values()].filter((n) => !done.has(n.id)),
        verified: keys !== undefined,
        unverified,
      });
    };
    const check = (): void => {
      if (discovered && [...nodes.keys()].every((id) => done.has(id))) finish();
    };
    const pings = nc.subscribe(pingInbox, {
      callback: (err, msg) => {
        if (err !== null) return;
        const id = identityOf(msg);
        if (id !== undefined && !nodes.has(id.id)) nodes.set(id.id, id);
        check();
      },
    });
    const replies = nc.subscribe(replyInbox, {
      callback: (err, msg) => {
        if (err !== null) return;
        const error = msg.headers?.get(SERVICE_ERROR);
        const code = msg.headers?.get(SERVICE_ERROR_CODE) ?? "";
        const signature = msg.headers?.get(FLEET_SIGNATURE_HEADER) || undefined;
        if (error) {
          if (keys !== undefined && !verifyFleet(keys, replyContext(nonce, true), `${code} ${error}`, signature)) {
            unverified++;
            return;
          }
          // An error reply has no body to say which node: count it under an anonymous id.
          errors.push({ node: `error-${errors.length + 1}`, error });
          return;
        }
        if (keys !== undefined && !verifyFleet(keys, replyContext(nonce), msg.data, signature)) {
          unverified++;
          return;
        }
        let reply: T;
        try {
          reply = msg.json<T>();
        } catch {
          return;
        }
        if (typeof reply.node !== "string" || done.has(reply.node)) return;
        if (!nodes.has(reply.node)) nodes.set(reply.node, { id: reply.node, host: reply.host });
        const list = byNode.get(reply.node) ?? [];
        list.push(reply);
        byNode.set(reply.node, list);
        if (complete(list)) done.add(reply.node);
        check();
      },
    });
    const deadline = setTimeout(finish, timeoutMs);
    const discovery = setTimeout(() => {
      discovered = true;
      check();
    }, discoveryMs);
    nc.publish(`$SRV.PING.${SERVICE_NAME}`, "", { reply: pingInbox });
    const h = headers();
    h.set(FLEET_NONCE_HEADER, nonce);
    nc.publish(subject, JSON.stringify(request), { reply: replyInbox, headers: h });
  });
}

function identityOf(msg: Msg): FleetNode | undefined {
  try {
    const v = msg.json<{ name?: unknown; id?: unknown; metadata?: Record<string, string> }>();
    if (v.name !== SERVICE_NAME || typeof v.id !== "string") return undefined;
    return { id: v.id, host: v.metadata?.pod ?? v.metadata?.host ?? "" };
  } catch {
    return undefined;
  }
}
