/**
 * Routing facts a node checks but never trusts for scope (docs/scaling.md):
 * - the pool: ALLOWED_ROLES makes a node serve app credentials only (the app pool, which then
 *   never subscribes `sms.>`), admin credentials only (the admin pool), or any;
 * - the tenant hint: `/ws?tenant=<id>` or `?tenant=<id>:<slot>`, read by the load balancer to
 *   hash a tenant's sockets onto few nodes. The credential alone decides the scope: a wrong or
 *   forged hint only costs efficiency, so the node reads it for logs and nothing else.
 */
import type { Scope } from "../scope/scope.js";
import { Refusals, type Refusal } from "./refusal.js";

export type AllowedRoles = "any" | "app" | "admin";

/** The refusal for a credential of a role this pool does not serve, or undefined. */
export function poolRefusal(allowed: AllowedRoles, role: Scope["role"]): Refusal | undefined {
  if (allowed === "any" || allowed === role) return undefined;
  return role === "admin" ? Refusals.adminOnAppPool : Refusals.appOnAdminPool;
}

const TENANT_HINT = /^([A-Za-z0-9_-]{1,64})(?::(\d{1,4}))?$/;

/** How a socket's hint compares with its credential's tenant (logged at auth). */
export type HintOutcome = "none" | "invalid" | "match" | "mismatch";

/** A hint as received: the tenant it names (slot stripped), or malformed. */
export type TenantHint = { readonly tenantId: string } | "invalid" | undefined;

/** The raw value is never logged: a malformed hint is whatever a client chose to send. */
export function parseTenantHint(raw: string | undefined): TenantHint {
  if (raw === undefined || raw === "") return undefined;
  const m = TENANT_HINT.exec(raw);
  return m === null ? "invalid" : { tenantId: m[1]! };
}

export function hintOutcome(hint: TenantHint, scope: Scope): HintOutcome {
  if (hint === undefined) return "none";
  if (hint === "invalid") return "invalid";
  // An admin socket has no tenant to match: any hint on it is a client's mistake.
  return scope.role === "app" && scope.tenantId === hint.tenantId ? "match" : "mismatch";
}
