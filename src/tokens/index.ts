/**
 * sms-ws-gateway/tokens: mint connection tokens on your backend (README.md, "Connection tokens"). No dependencies
 * beyond node:crypto. A page gets a short-lived token from your backend and hands it to the
 * client SDK's `getToken`; the signer's private key never leaves the backend.
 *
 *   const token = createConnectionToken({ privateKey: pem, kid, tenantId, appId, ttlSeconds: 900 });
 */
export {
  createConnectionToken,
  generateSignerKeyPair,
  generateTokenId,
  TokenMintError,
  type CreateConnectionTokenInput,
  type SignerKeyPair,
} from "./mint-token.js";
export type { ConnectionTokenClaims, TokenFilter } from "./claims.js";
export { CLOCK_LEEWAY_S, DEFAULT_TOKEN_MAX_TTL_S, FILTER_LIMITS, TOKEN_MAX_LENGTH } from "./limits.js";
