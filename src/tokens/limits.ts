/**
 * The bounds and constants of connection tokens (README.md, "Connection tokens"), in one place. Every one of
 * them is checked before the single signature verification a token may cost.
 */

/** Longest token accepted, in characters. Tokens from the CLI or the helper are ~400-700. */
export const TOKEN_MAX_LENGTH = 4096;

/**
 * Room in a client WebSocket frame for everything but the credential: the JSON wrapper of an
 * auth or refresh frame, and an auth frame's `resume` and `filter` (what a whole frame held
 * before a token could be TOKEN_MAX_LENGTH long).
 */
export const CLIENT_FRAME_ENVELOPE_BYTES = 4096;

/**
 * Largest client WebSocket frame accepted (larger: close 1009), derived so that a maximal token
 * (base64url: one byte a character) always fits in an auth or refresh frame with its wrapper.
 */
export const MAX_CLIENT_FRAME_BYTES = TOKEN_MAX_LENGTH + CLIENT_FRAME_ENVELOPE_BYTES;

/** Longest encoded JWS header accepted ({"alg","typ","kid"} is about 90 characters). */
export const HEADER_MAX_LENGTH = 512;

/**
 * Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds. The spec allows at most 30;
 * 5 covers NTP-synced servers, and the SDK refreshes long before expiry anyway.
 */
export const CLOCK_LEEWAY_S = 5;

/** The spec's ceiling for any leeway. */
export const MAX_CLOCK_LEEWAY_S = 30;

/** Default for TOKEN_MAX_TTL_S: `exp - iat` above this is refused. */
export const DEFAULT_TOKEN_MAX_TTL_S = 86_400;

/** Longest `sub` (end-user id), in characters. */
export const SUB_MAX_LENGTH = 128;

/**
 * `kid`: a signer id, also the key of its KV entry. Same alphabet as tenant and app ids.
 */
export const KID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * `jti`: also the key of its entry in the revoked-token KV bucket, so it must be a valid KV key.
 * Covers UUIDs, nanoids and base64url. A token with a jti outside this could never be revoked,
 * so it is refused rather than accepted unrevocable.
 */
export const JTI_PATTERN = /^[A-Za-z0-9_=-]{1,128}$/;

/** Size limits of the `filter` claim: the filters' own (src/scope/filter.ts). */
export { FILTER_LIMITS } from "../scope/filter.js";

/** An Ed25519 signature is 64 bytes: 86 base64url characters. */
export const ED25519_SIGNATURE_BYTES = 64;
export const ED25519_KEY_BYTES = 32;
