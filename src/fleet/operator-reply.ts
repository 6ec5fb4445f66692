/**
 * Who a node answers on the fleet plane: operators only. The rule is the reply subject, because
 * that is where the answer goes and what NATS lets a sender choose only within its permissions:
 *   - `_INBOX_admin.<...>`: the admin user's inbox (one account: dev, or a server without
 *     accounts). Only admin may subscribe there, so only admin reads the answer;
 *   - `_R_.<...>`: a reply subject the server mapped for a request that came through a service
 *     import from another account; with the accounts of docs/security.md only the admin account
 *     imports `conns`, `kick` and `stats`.
 * Anything else (no reply at all, or a subject the sender can read itself, such as
 * `sms-ws.fleet.spy.conns`) is not an operator asking, and the request is dropped unanswered
 * and unexecuted (a kick with no operator reply kicks nobody).
 */
import { PERMISSIONS } from "../bus/permissions.js";

const OPERATOR_REPLY_PREFIXES = [`${PERMISSIONS.admin.inboxPrefix}.`, "_R_."] as const;

/** Whether a fleet request with this reply subject comes from an operator. */
export function isOperatorReply(reply: string | undefined): boolean {
  if (reply === undefined) return false;
  return OPERATOR_REPLY_PREFIXES.some((p) => reply.length > p.length && reply.startsWith(p));
}
