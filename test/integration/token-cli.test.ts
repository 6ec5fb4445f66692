/** `sms-ws signers`, `sms-ws token` and `sms-ws tokens` as an operator runs them (built CLI). */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUCKETS, openBucket } from "../../src/bus/buckets.js";
import { RevokedTokens } from "../../src/tokens/revoked-tokens.js";
import { listSigners } from "../../src/tokens/signer-admin.js";
import { SignerStore } from "../../src/tokens/signer-store.js";
import { verifyConnectionToken } from "../../src/tokens/verify-token.js";
import { startTestNats, storeReaches, type TestNats } from "../helpers/harness.js";

const run = promisify(execFile);
const CLI = new URL("../../dist/cli/main.js", import.meta.url).pathname;
const log = pino({ level: "silent" });

let nats: TestNats;
let nc: NatsConnection;
let signerKv: KV;
let signers: SignerStore;
let revoked: RevokedTokens;
let dir: string;

beforeAll(async () => {
  nats = await startTestNats();
  // The harness provisioned the buckets; the CLI and this test only open them, as the admin user.
  nc = await adminConnection(nats);
  signerKv = await openBucket(nc, BUCKETS.tokenSigners);
  const revokedKv = await openBucket(nc, BUCKETS.revokedTokens);
  signers = new SignerStore(signerKv, log);
  revoked = new RevokedTokens(revokedKv, log, { ttlMs: 86_400_000 });
  await Promise.all([signers.start(), revoked.start()]);
  dir = mkdtempSync(join(tmpdir(), "smsws-token-cli-"));
});

afterAll(async () => {
  signers?.stop();
  revoked?.stop();
  await nc?.close();
  await nats?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function adminConnection(n: TestNats): Promise<NatsConnection> {
  if (n.secure === undefined) throw new Error("expected a permissioned server");
  return n.secure.connect("admin");
}

/** The CLI as an operator runs it: with the admin NATS user. */
function cli(args: string[], env: Record<string, string> = {}) {
  return run(process.execPath, [CLI, ...args], { env: { ...process.env, ...nats.cliEnv("admin"), LOG_LEVEL: "silent", ...env } });
}

const deps = {
  signer: (kid: string) => signers.signer(kid),
  isRevoked: (jti: string) => revoked.isRevoked(jti),
  nowMs: Date.now,
  maxTtlS: 86_400,
};

describe("sms-ws signers / token / tokens", () => {
  it("creates a signer (key printed once), lists it without the key, mints a token that verifies, revokes both", async () => {
    const created = JSON.parse((await cli(["signers", "create", "--tenant", "Tc", "--app", "Ac", "--label", "web", "--json"])).stdout);
    expect(created).toEqual({
      kid: expect.stringMatching(/^sig_[A-Za-z0-9_-]{16}$/),
      tenantId: "Tc",
      appId: "Ac",
      label: "web",
      publicKey: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      createdAt: expect.any(String),
      privateKeyPem: expect.stringMatching(/^-----BEGIN PRIVATE KEY-----/),
    });
    const listed = (await cli(["signers", "list"])).stdout;
    expect(listed).toContain(`${created.kid}  Tc/Ac  web`);
    const listedJson = (await cli(["signers", "list", "--json"])).stdout;
    expect(listedJson).not.toContain("PRIVATE KEY");
    expect(JSON.parse(listedJson)).toContainEqual(expect.objectContaining({ kid: created.kid, publicKey: created.publicKey }));

    const keyFile = join(dir, "signer.pem");
    await import("node:fs/promises").then((fs) => fs.writeFile(keyFile, created.privateKeyPem, { mode: 0o600 }));
    const minted = JSON.parse(
      (
        await cli([
          "token", "--signer-key", keyFile, "--kid", created.kid, "--tenant", "Tc", "--app", "Ac", "--ttl", "15m",
          "--sub", "user-1", "--filter", '{"statuses":["failed"]}', "--jti", "cli-jti-1", "--json",
        ])
      ).stdout,
    );
    expect(minted).toMatchObject({ kid: created.kid, tenantId: "Tc", appId: "Ac", jti: "cli-jti-1" });
    expect(minted.exp - Math.floor(Date.now() / 1000)).toBeGreaterThan(890);
    expect(minted.exp - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(900);
    await storeReaches(signers, () => signers.has(created.kid));
    expect(verifyConnectionToken(minted.token, deps)).toMatchObject({
      ok: true,
      claims: { sub: "user-1", jti: "cli-jti-1", filter: { statuses: ["failed"] } },
    });
    // Without --json: the token alone, for scripts.
    const plain = (await cli(["token", "--signer-key", keyFile, "--kid", created.kid, "--tenant", "Tc", "--app", "Ac", "--ttl", "90s"])).stdout.trim();
    expect(plain.split(".")).toHaveLength(3);
    expect(verifyConnectionToken(plain, deps).ok).toBe(true);

    expect((await cli(["tokens", "revoke", "cli-jti-1"])).stdout.trim()).toBe("revoked token cli-jti-1");
    await storeReaches(revoked, () => revoked.isRevoked("cli-jti-1"));
    // With a reason: still a revocation in the format every node reads (revocation-record.ts).
    expect((await cli(["tokens", "revoke", "cli-jti-2", "--reason", "leaked in a support ticket"])).stdout.trim()).toBe("revoked token cli-jti-2");
    await storeReaches(revoked, () => revoked.isRevoked("cli-jti-2"));
    await expect(cli(["tokens", "revoke", "cli-jti-3", "--reason", "x".repeat(201)])).rejects.toMatchObject({ stderr: expect.stringContaining("at most 200") });
    expect(verifyConnectionToken(minted.token, deps)).toMatchObject({ ok: false, outcome: "token_revoked" });

    expect((await cli(["signers", "revoke", created.kid])).stdout.trim()).toBe(`revoked signer ${created.kid}`);
    await storeReaches(signers, () => !signers.has(created.kid));
    expect(verifyConnectionToken(plain, deps)).toMatchObject({ ok: false, outcome: "token_invalid" });
    await expect(cli(["signers", "revoke", created.kid])).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining("no such signer") });
  });

  it("--out writes the private key with mode 0600 and never overwrites a file (and then creates no signer)", async () => {
    const keyFile = join(dir, "out.pem");
    const { stdout } = await cli(["signers", "create", "--tenant", "To", "--out", keyFile]);
    expect(stdout).not.toContain("PRIVATE KEY");
    expect(stdout).toContain(`private key written to ${keyFile} (mode 0600)`);
    expect(readFileSync(keyFile, "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);

    const before = (await listSigners(signerKv)).length;
    await expect(cli(["signers", "create", "--tenant", "To", "--out", keyFile])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining("EEXIST"),
    });
    expect((await listSigners(signerKv)).length).toBe(before);
  });

  it("refuses bad input with a clear message and exit code 1", async () => {
    const keyFile = join(dir, "bad-input.pem");
    await cli(["signers", "create", "--tenant", "Tb", "--out", keyFile]);
    const mint = (extra: string[]) => cli(["token", "--signer-key", keyFile, "--kid", "sig_x", "--tenant", "Tb", "--app", "Ab", ...extra]);
    await expect(mint(["--ttl", "15 minutes"])).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining("--ttl") });
    await expect(mint([])).rejects.toMatchObject({ stderr: expect.stringContaining("token needs --ttl") });
    await expect(mint(["--ttl", "1h", "--filter", "{nope"])).rejects.toMatchObject({ stderr: expect.stringContaining("--filter is not valid JSON") });
    await expect(mint(["--ttl", "1h", "--filter", '{"types":"sms_status"}'])).rejects.toMatchObject({ stderr: expect.stringContaining("filter.types") });
    await expect(cli(["signers", "create", "--tenant", "bad tenant"])).rejects.toMatchObject({ stderr: expect.stringContaining("--tenant must match") });
    await expect(cli(["tokens", "revoke", "has space"])).rejects.toMatchObject({ stderr: expect.stringContaining("jti must match") });
    // The CLI opens buckets, it never creates one.
    await expect(cli(["signers", "list"], { SIGNER_BUCKET: "not_provisioned" })).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining("cannot open the KV bucket not_provisioned"),
    });
  });
});
