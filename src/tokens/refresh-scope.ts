/**
 * README.md, "Connection tokens": `{"type":"refresh","token":...}` must name the same tenantId and appId as the token
 * the socket authenticated with. Another signer (key rotation) or a new filter is fine; the
 * socket's topics never change on a refresh.
 */
import type { AppScope, TokenAccepted } from "./verdict.js";

export function refreshKeepsScope(current: AppScope, next: TokenAccepted): boolean {
  return next.scope.tenantId === current.tenantId && next.scope.appId === current.appId;
}
