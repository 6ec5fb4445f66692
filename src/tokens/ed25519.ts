/**
 * Ed25519 keys from their raw forms: a 32-byte seed (private) and the base64url of a 32-byte
 * public key (the JWK `x`). One place for the wrapping, used by token signers and the fleet key.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";

// PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410 section 7): this fixed prefix, then the 32 bytes.
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/** The private key of a 32-byte seed (throws on a seed node:crypto refuses). */
export function privateKeyFromSeed(seed: Buffer): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: "der", type: "pkcs8" });
}

/** The public key of its base64url text, or null when it cannot be imported. */
export function publicKeyFromBase64Url(x: string): KeyObject | null {
  try {
    return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" });
  } catch {
    return null;
  }
}
