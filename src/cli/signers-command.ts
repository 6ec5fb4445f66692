/** `sms-ws signers create | list | revoke`: token signers in the KV bucket (README.md, "Connection tokens"). */
import { rm, writeFile } from "node:fs/promises";
import type { Config } from "../config/config.js";
import { generateSignerKeyPair } from "../tokens/mint-token.js";
import { createSigner, listSigners, revokeSigner, type CreatedSigner } from "../tokens/signer-admin.js";
import { stringFlag, type ParsedArgs } from "./args.js";
import { cliConnect, cliOpenBucket } from "./connect.js";

export async function signersCommand(config: Config, args: ParsedArgs, out: (line: string) => void): Promise<void> {
  const action = args.positionals[1];
  if (action !== "create" && action !== "list" && action !== "revoke") throw new Error("signers needs one of: create, list, revoke");
  const nc = await cliConnect(config);
  try {
    const kv = await cliOpenBucket(nc, config.signerBucket);
    if (action === "create") {
      const tenantId = stringFlag(args, "tenant");
      if (tenantId === undefined) throw new Error("signers create needs --tenant T");
      const appId = stringFlag(args, "app");
      const label = stringFlag(args, "label");
      const outFile = stringFlag(args, "out");
      // The key file first: a signer whose private key could not be saved would be useless.
      const keyPair = generateSignerKeyPair();
      if (outFile !== undefined) await writePrivateKey(outFile, keyPair.privateKeyPem);
      let created: CreatedSigner;
      try {
        created = await createSigner(
          kv,
          { tenantId, ...(appId === undefined ? {} : { appId }), ...(label === undefined ? {} : { label }) },
          keyPair,
        );
      } catch (err) {
        if (outFile !== undefined) await rm(outFile, { force: true });
        throw err;
      }
      printCreated(created, outFile, args.flags.has("json"), out);
    } else if (action === "list") {
      const signers = await listSigners(kv);
      if (args.flags.has("json")) {
        out(JSON.stringify(signers));
      } else {
        for (const s of signers) out(`${s.kid}  ${s.tenantId}/${s.appId ?? "*"}  ${s.label ?? ""}  ${s.createdAt}`);
        if (signers.length === 0) out("(no signers)");
      }
    } else {
      const kid = args.positionals[2];
      if (kid === undefined) throw new Error("signers revoke needs KID");
      await revokeSigner(kv, kid);
      out(`revoked signer ${kid}`);
    }
  } finally {
    await nc.close();
  }
}

/** Owner-only (0600), and never over an existing file: a key must not replace another. */
async function writePrivateKey(path: string, pem: string): Promise<void> {
  try {
    await writeFile(path, pem, { mode: 0o600, flag: "wx" });
  } catch (err) {
    throw new Error(`cannot write the private key to ${path}: ${(err as Error).message}`, { cause: err });
  }
}

function printCreated(created: CreatedSigner, outFile: string | undefined, json: boolean, out: (line: string) => void): void {
  const { privateKeyPem, ...publicPart } = created;
  if (json) {
    out(JSON.stringify(outFile === undefined ? { ...publicPart, privateKeyPem } : { ...publicPart, privateKeyFile: outFile }));
    return;
  }
  out(`signer ${created.kid}: tenant=${created.tenantId} app=${created.appId ?? "* (any app of the tenant)"}`);
  out(`public key: ${created.publicKey}`);
  if (outFile !== undefined) {
    out(`private key written to ${outFile} (mode 0600): keep it on the backend that mints tokens`);
  } else {
    out("private key (shown once; keep it on the backend that mints tokens, never in a page):");
    out(privateKeyPem.trimEnd());
  }
}
