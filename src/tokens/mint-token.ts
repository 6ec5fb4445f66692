/**
 * Minting connection tokens on a tenant's backend, with node:crypto only. Any JWT library that
 * signs EdDSA (Ed25519) with a `kid` header does the same; this helper also checks its input
 * against the rules the gateway verifies, so a token it returns has a valid shape.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";
import { GatewayError } from "../errors.js";
import { decodeBase64Url, encodeBase64Url } from "./base64url.js";
import { parseTokenClaims, type TokenFilter } from "./claims.js";
import { privateKeyFromSeed } from "./ed25519.js";
import { ED25519_KEY_BYTES, KID_PATTERN } from "./limits.js";

/** Bad input to the mint helper (a bad key, claim or TTL). The message never holds the key. */
export class TokenMintError extends GatewayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("TOKEN_MINT", message, options);
  }
}

export interface CreateConnectionTokenInput {
  /**
   * The signer's Ed25519 private key: a KeyObject, a PKCS#8 PEM string (what
   * `sms-ws signers create` prints), or the base64url raw 32-byte seed.
   */
  privateKey: KeyObject | string;
  /** The signer id (`kid`) printed by `sms-ws signers create`. */
  kid: string;
  tenantId: string;
  appId: string;
  /** Lifetime in seconds; the gateway refuses more than its TOKEN_MAX_TTL_S (default 86400). */
  ttlSeconds: number;
  /** End-user id (at most 128 characters); shows up in the gateway's logs and `sms-ws conns`. */
  sub?: string;
  /** Token id for `sms-ws tokens revoke`. Default: 16 random bytes, base64url. */
  jti?: string;
  /** A ceiling on what the socket may receive (src/scope/filter.ts). */
  filter?: TokenFilter;
  /** Clock, ms since the epoch; default Date.now(). */
  now?: number;
}

export interface SignerKeyPair {
  /** base64url of the raw 32-byte public key: what the signer bucket stores. */
  publicKey: string;
  /** PKCS#8 PEM: keep it on the backend that mints tokens, never in a page. */
  privateKeyPem: string;
}

/** A compact JWS: header {"alg":"EdDSA","typ":"JWT","kid"}, claims as in README.md, "Connection tokens". */
export function createConnectionToken(input: CreateConnectionTokenInput): string {
  const key = toPrivateKey(input.privateKey);
  if (typeof input.kid !== "string" || !KID_PATTERN.test(input.kid)) throw new TokenMintError(`kid must match ${KID_PATTERN}`);
  if (!Number.isSafeInteger(input.ttlSeconds) || input.ttlSeconds < 1) throw new TokenMintError("ttlSeconds must be an integer >= 1");
  const iat = Math.floor((input.now ?? Date.now()) / 1000);
  const payload: Record<string, unknown> = {
    tenantId: input.tenantId,
    appId: input.appId,
    iat,
    exp: iat + input.ttlSeconds,
    jti: input.jti ?? generateTokenId(),
  };
  if (input.sub !== undefined) payload.sub = input.sub;
  if (input.filter !== undefined) payload.filter = input.filter;
  const checked = parseTokenClaims(payload);
  if (!checked.ok) throw new TokenMintError(checked.detail);

  const header = { alg: "EdDSA", typ: "JWT", kid: input.kid };
  const signingInput = `${encodeBase64Url(JSON.stringify(header))}.${encodeBase64Url(JSON.stringify(checked.value))}`;
  const signature = sign(null, Buffer.from(signingInput, "utf8"), key);
  return `${signingInput}.${encodeBase64Url(signature)}`;
}

/** A new Ed25519 key pair for a signer. */
export function generateSignerKeyPair(): SignerKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const x = publicKey.export({ format: "jwk" }).x;
  if (typeof x !== "string") throw new TokenMintError("could not export the Ed25519 public key");
  return { publicKey: x, privateKeyPem: privateKey.export({ format: "pem", type: "pkcs8" }).toString() };
}

/** A random token id (16 bytes, base64url): unguessable, and a valid revocation-bucket key. */
export function generateTokenId(): string {
  return randomBytes(16).toString("base64url");
}

function toPrivateKey(input: KeyObject | string): KeyObject {
  let key: KeyObject;
  if (typeof input === "string") {
    try {
      if (input.trimStart().startsWith("-----BEGIN")) {
        key = createPrivateKey(input);
      } else {
        const seed = decodeBase64Url(input.trim());
        if (seed === undefined || seed.length !== ED25519_KEY_BYTES) {
          throw new TokenMintError("privateKey must be a PEM private key or a base64url 32-byte Ed25519 seed");
        }
        key = privateKeyFromSeed(seed);
      }
    } catch (cause) {
      if (cause instanceof TokenMintError) throw cause;
      // The cause's message comes from OpenSSL and does not quote the key.
      throw new TokenMintError("privateKey could not be read as an Ed25519 private key", { cause });
    }
  } else if (typeof input === "object" && input !== null && "asymmetricKeyType" in input) {
    key = input;
  } else {
    throw new TokenMintError("privateKey must be a KeyObject, a PEM string or a base64url seed");
  }
  if (key.type !== "private" || key.asymmetricKeyType !== "ed25519") {
    throw new TokenMintError(`privateKey must be an Ed25519 private key (got ${key.asymmetricKeyType ?? key.type})`);
  }
  return key;
}
