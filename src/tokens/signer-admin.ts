/**
 * Signer management over the KV bucket: create, list, revoke. Used by `sms-ws signers` and
 * `sms-ws dev`. The private key is returned once and never stored.
 */
import type { KV } from "@nats-io/kv";
import { ID_PATTERN, TENANT_WIDE_APP } from "../events/event.js";
import { TokenAdminError } from "./admin-error.js";
import { KID_PATTERN } from "./limits.js";
import { generateSignerKeyPair, type SignerKeyPair } from "./mint-token.js";
import { generateKid, parseSignerRecord, type SignerRecord } from "./signer-record.js";

export interface CreateSignerInput {
  tenantId: string;
  /** Absent: the signer may mint for any app of the tenant. */
  appId?: string;
  label?: string;
}

export interface CreatedSigner extends SignerRecord {
  kid: string;
  /** PKCS#8 PEM of the private key: shown once, for the tenant's backend. */
  privateKeyPem: string;
}

export type ListedSigner = SignerRecord & { kid: string };

export async function createSigner(kv: KV, input: CreateSignerInput, keyPair: SignerKeyPair = generateSignerKeyPair()): Promise<CreatedSigner> {
  if (!ID_PATTERN.test(input.tenantId)) throw new TokenAdminError(`--tenant must match ${ID_PATTERN}`);
  if (input.appId !== undefined && (!ID_PATTERN.test(input.appId) || input.appId === TENANT_WIDE_APP)) {
    throw new TokenAdminError(`--app must match ${ID_PATTERN} and not be "${TENANT_WIDE_APP}"`);
  }
  const record = parseSignerRecord({
    tenantId: input.tenantId,
    ...(input.appId === undefined ? {} : { appId: input.appId }),
    publicKey: keyPair.publicKey,
    ...(input.label === undefined ? {} : { label: input.label }),
    createdAt: new Date().toISOString(),
  });
  if (record === null) throw new TokenAdminError("could not build a valid signer record");
  const kid = generateKid();
  // create, not put: a kid collision (or a replayed command) must not replace a signer.
  await kv.create(kid, JSON.stringify(record));
  return { kid, ...record, privateKeyPem: keyPair.privateKeyPem };
}

export async function listSigners(kv: KV): Promise<ListedSigner[]> {
  const out: ListedSigner[] = [];
  for await (const kid of await kv.keys()) {
    const entry = await kv.get(kid);
    if (entry === null || entry.operation !== "PUT") continue;
    let record: SignerRecord | null;
    try {
      record = parseSignerRecord(entry.json());
    } catch {
      record = null;
    }
    if (record !== null) out.push({ kid, ...record });
  }
  return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/** Deletes the signer: every node closes the sockets authenticated with its tokens. */
export async function revokeSigner(kv: KV, kid: string): Promise<void> {
  const entry = KID_PATTERN.test(kid) ? await kv.get(kid) : null;
  if (entry === null || entry.operation !== "PUT") throw new TokenAdminError(`no such signer ${kid.slice(0, 64)}`);
  await kv.purge(kid);
}
