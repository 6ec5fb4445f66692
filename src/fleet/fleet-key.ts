/**
 * The fleet key: an Ed25519 key pair, separate from every NATS password, that tells real nodes
 * from anyone else who holds the shared gateway password (docs/operations-fleet.md, "Who can
 * send what"). Nodes sign their answers to the fleet CLI and their quota counts with the private
 * half (FLEET_SIGNING_KEY); the CLI and the other nodes check with the public half
 * (FLEET_PUBLIC_KEY, or the one derived from the node's own key).
 *
 * What is signed is never the body alone: a context names what the bytes are for and binds them
 * to one request (the CLI's random nonce) or one subject (a node's counts subject), so a signed
 * answer cannot be replayed as the answer to another request or as another node's counts.
 */
import { createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { decodeBase64Url, encodeBase64Url } from "../tokens/base64url.js";
import { privateKeyFromSeed, publicKeyFromBase64Url } from "../tokens/ed25519.js";
import { ED25519_KEY_BYTES } from "../tokens/limits.js";

/** Header of every signed fleet message: base64url of the Ed25519 signature. */
export const FLEET_SIGNATURE_HEADER = "Sms-Ws-Fleet-Signature";
/** Header of a fleet CLI request: the nonce the answers are bound to. */
export const FLEET_NONCE_HEADER = "Sms-Ws-Fleet-Nonce";
/** A nonce as the CLI makes it (16 random bytes, base64url); anything else is ignored. */
export const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;

const DOMAIN = "sms-ws-fleet/1";

/** What a node signs with. */
export interface FleetSigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** base64url of the raw 32-byte public key: the FLEET_PUBLIC_KEY to give the CLI. */
  readonly publicKeyText: string;
}

/** Why a fleet key text was refused (the message never holds the key). */
export type KeyParse<T> = { ok: true; key: T } | { ok: false; problem: string };

/** FLEET_SIGNING_KEY: base64url of the 32-byte Ed25519 seed (what `sms-ws fleet-key` prints). */
export function parseSigningKey(text: string): KeyParse<FleetSigningKey> {
  const seed = decodeBase64Url(text.trim());
  if (seed === undefined || seed.length !== ED25519_KEY_BYTES) return { ok: false, problem: "the base64url (unpadded) 32-byte Ed25519 seed that `sms-ws fleet-key` prints" };
  const privateKey = privateKeyFromSeed(seed);
  const publicKey = createPublicKey(privateKey);
  return { ok: true, key: Object.freeze({ privateKey, publicKey, publicKeyText: publicKeyText(publicKey) }) };
}

/** FLEET_PUBLIC_KEY: one or more base64url 32-byte Ed25519 public keys, comma-separated (two during a rotation). */
export function parsePublicKeys(text: string): KeyParse<readonly KeyObject[]> {
  const keys: KeyObject[] = [];
  for (const part of text.split(",").map((s) => s.trim()).filter((s) => s.length > 0)) {
    const raw = decodeBase64Url(part);
    if (raw === undefined || raw.length !== ED25519_KEY_BYTES) return { ok: false, problem: "base64url (unpadded) 32-byte Ed25519 public keys, comma-separated" };
    const key = publicKeyFromBase64Url(part);
    if (key === null) return { ok: false, problem: "Ed25519 public keys (one could not be imported)" };
    keys.push(key);
  }
  return { ok: true, key: Object.freeze(keys) };
}

/** A new fleet key pair, as the two variables' values. */
export function generateFleetKey(): { signingKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const d = privateKey.export({ format: "jwk" }).d;
  if (typeof d !== "string") throw new Error("could not export the Ed25519 seed");
  return { signingKey: d, publicKey: publicKeyText(publicKey) };
}

function publicKeyText(key: KeyObject): string {
  const x = key.export({ format: "jwk" }).x;
  if (typeof x !== "string") throw new Error("could not export the Ed25519 public key");
  return x;
}

/** The context of an answer to the CLI request carrying `nonce` (an error answer signs its header text as the body). */
export function replyContext(nonce: string, error = false): string {
  return `${error ? "error" : "reply"} ${nonce}`;
}

/** The context of a node's counts: the subject they are published on (names the node). */
export function countsContext(subject: string): string {
  return `counts ${subject}`;
}

function signedBytes(context: string, body: Uint8Array | string): Buffer {
  return Buffer.concat([Buffer.from(`${DOMAIN}\n${context}\n`, "utf8"), Buffer.from(body)]);
}

export function signFleet(key: FleetSigningKey, context: string, body: Uint8Array | string): string {
  return encodeBase64Url(sign(null, signedBytes(context, body), key.privateKey));
}

/** Whether `signature` (the header's text, maybe absent) is one of `keys`' over the context and body. */
export function verifyFleet(keys: readonly KeyObject[], context: string, body: Uint8Array | string, signature: string | undefined): boolean {
  if (signature === undefined || signature.length === 0 || signature.length > 128) return false;
  const raw = decodeBase64Url(signature);
  if (raw === undefined || raw.length !== 64) return false;
  const bytes = signedBytes(context, body);
  return keys.some((k) => verify(null, bytes, k, raw));
}

/** The keys of a node or the CLI from the configuration's texts (FLEET_SIGNING_KEY, FLEET_PUBLIC_KEY; config.ts checked their shape). */
export function fleetKeys(signingKey: string, publicKeys: readonly string[]): { signingKey: FleetSigningKey | undefined; publicKeys: readonly KeyObject[] } {
  const signing = signingKey === "" ? undefined : parseSigningKey(signingKey);
  if (signing !== undefined && !signing.ok) throw new Error(`FLEET_SIGNING_KEY is invalid: expected ${signing.problem}`);
  const parsed = parsePublicKeys(publicKeys.join(","));
  if (!parsed.ok) throw new Error(`FLEET_PUBLIC_KEY is invalid: expected ${parsed.problem}`);
  return { signingKey: signing?.key, publicKeys: parsed.key };
}
