/**
 * The tenant routing hint (docs/scaling.md, "Tenant affinity"): the client adds `tenant=<id>` to
 * the URL so the load balancer can hash a tenant's sockets onto few nodes, and each node
 * subscribes to fewer feeds. A big tenant spreads over `tenantSlots` hash keys, `<id>:<slot>`
 * with the slot drawn at each connection. The server never trusts the hint: the credential
 * decides the scope, and a wrong hint only costs efficiency.
 */

const TENANT_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function isTenantId(value: unknown): value is string {
  return typeof value === "string" && TENANT_ID.test(value);
}

/**
 * The `tenantId` claim of a connection token (a JWT), read without verifying it: it only picks a
 * route, the server verifies the token. Undefined for anything that is not a readable JWT.
 */
export function tokenTenant(token: string): string | undefined {
  const parts = token.split(".");
  if (parts.length !== 3 || parts[1] === undefined) return undefined;
  try {
    const json = atob(parts[1].replace(/-/g, "+").replace(/_/g, "/"));
    const claims = JSON.parse(json) as { tenantId?: unknown };
    return isTenantId(claims.tenantId) ? claims.tenantId : undefined;
  } catch {
    return undefined;
  }
}

/** The URL with `tenant=<id>` (or `<id>:<slot>`, slot uniform in [0, slots)) set; unchanged without a tenant. */
export function routedUrl(url: string, tenantId: string | undefined, slots: number, random: () => number): string {
  if (tenantId === undefined) return url;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url; // the WebSocket constructor reports the bad URL
  }
  const slot = slots > 1 ? Math.min(slots - 1, Math.floor(random() * slots)) : undefined;
  parsed.searchParams.set("tenant", slot === undefined ? tenantId : `${tenantId}:${slot}`);
  return parsed.toString();
}
