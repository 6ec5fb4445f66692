/**
 * Scopes: the security boundary. A scope is what one API key may see; a feed is one NATS
 * subscription paired with the one uWS topic its events are published to. A socket subscribes to
 * the topics of its scope's feeds and to nothing else.
 */
import { TENANT_WIDE_APP } from "../events/event.js";
import { LIVE_PREFIX, LIVE_SUBJECTS } from "../bus/contract.js";
import type { Feed } from "../bus/feed.js";

export type Scope = { role: "admin" } | { role: "app"; tenantId: string; appId: string };

export type { Feed } from "../bus/feed.js";

export const ADMIN_FEED: Feed = Object.freeze({ subject: LIVE_SUBJECTS, topic: "admin" });

function appFeed(tenantId: string, appToken: string): Feed {
  return { subject: `${LIVE_PREFIX}.${tenantId}.${appToken}.*`, topic: `${tenantId}.${appToken}` };
}

/**
 * The feeds a socket of this scope receives: its app's events and its tenant's tenant-wide ones.
 * The last feed is the one every socket of the tenant shares (the gateway pings through it).
 */
export function feedsOf(scope: Scope): readonly Feed[] {
  if (scope.role === "admin") return [ADMIN_FEED];
  return [appFeed(scope.tenantId, scope.appId), appFeed(scope.tenantId, TENANT_WIDE_APP)];
}

/** A stable key naming the scope (metrics, logs, replay filters). */
export function scopeKey(scope: Scope): string {
  return scope.role === "admin" ? "admin" : `${scope.tenantId}.${scope.appId}`;
}

/** Whether an event on live subject (tenant, app token) is inside the scope. */
export function scopeAllows(scope: Scope, tenantId: string, appToken: string): boolean {
  if (scope.role === "admin") return true;
  return scope.tenantId === tenantId && (scope.appId === appToken || appToken === TENANT_WIDE_APP);
}
