/**
 * The imported public key of a signer. createPublicKey costs more than the signature check
 * itself, so each record's KeyObject is made once. The cache is keyed by the record object:
 * a store replaces the object when the entry changes, and a dropped record frees its key.
 */
import type { KeyObject } from "node:crypto";
import { publicKeyFromBase64Url } from "./ed25519.js";
import type { SignerRecord } from "./signer-record.js";

const cache = new WeakMap<SignerRecord, KeyObject | null>();

/** The Ed25519 KeyObject of a signer, or undefined when its key cannot be imported. */
export function publicKeyOf(signer: SignerRecord): KeyObject | undefined {
  let key = cache.get(signer);
  if (key === undefined) {
    key = publicKeyFromBase64Url(signer.publicKey);
    cache.set(signer, key);
  }
  return key ?? undefined;
}
