/**
 * Every shell command docs/operations-*.md tells an operator to type, run as written: the fenced
 * blocks are read from the docs, so a command added without coverage here fails. A block whose
 * first line says `# needs ...` (a Kubernetes cluster, Docker and a registry, Go) is exempt.
 *
 * The fleet is two `sms-ws serve` processes on the permissioned nats-server (production
 * matrix); `sms-ws` is dist/cli/main.js and `nats` is the real natscli at the versions.json pin
 * (src/dev/nats-binaries.ts: absent, this file fails saying how to build it). A line is run by
 * bash with its placeholders filled in (`...` -> the admin credentials, `[--flag VALUE]` -> the
 * flag with a value of this run), as the admin user with its inbox prefix.
 */
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { connect, createInbox, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBucket } from "../../src/bus/buckets.js";
import { renderAuthorization } from "../../src/bus/nats-accounts.js";
import { PERMISSIONS } from "../../src/bus/permissions.js";
import { startNatsServer, type EmbeddedNats } from "../../src/dev/embedded-nats.js";
import { natsCliBinary, natsPins } from "../../src/dev/nats-binaries.js";
import { createKey } from "../../src/keys/key-admin.js";
import { TestClient } from "../helpers/client.js";
import { startNodeProcess, type NodeProcess } from "../helpers/node-process.js";
import { startSecureNats, type SecureNats } from "../helpers/secure-nats.js";

const run = promisify(execFile);
const root = new URL("../..", import.meta.url).pathname;
const DOCS = ["docs/operations-deploy.md", "docs/operations-fleet.md"];
const VERSION = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;

interface DocCommand {
  doc: string;
  /** The line as the doc prints it, trailing comment removed. */
  line: string;
  /** Set when the block starts with `# needs ...`: not runnable here. */
  needs?: string;
}

/** The command lines of the fenced shell blocks (```sh or a bare ```), in order. */
function documentedCommands(doc: string, text: string): DocCommand[] {
  const out: DocCommand[] = [];
  const blocks = text.matchAll(/^[ \t]*```(sh|bash|shell)?[ \t]*\n([\s\S]*?)^[ \t]*```[ \t]*$/gm);
  for (const [, , body = ""] of blocks) {
    const lines = body.split("\n").map((l) => l.trim());
    const needs = /^# (needs .*)$/.exec(lines[0] ?? "")?.[1];
    // A trailing backslash continues the command on the next line.
    const joined = lines.join("\n").replace(/\\\n/g, " ").split("\n");
    for (const raw of joined) {
      const line = raw.replace(/\s+#\s.*$/, "").trim();
      if (line === "" || line.startsWith("#")) continue;
      out.push(needs === undefined ? { doc, line } : { doc, line, needs });
    }
  }
  return out;
}

const commands = DOCS.flatMap((doc) => documentedCommands(doc, readFileSync(join(root, doc), "utf8")));

let nats: SecureNats;
let admin: NatsConnection;
let bin: string;
let home: string;
const nodes: NodeProcess[] = [];
const sockets: TestClient[] = [];
let keyPrefix = "";
/** The node `micro info` did not show: `<id>` in the docs. */
let otherId = "";
/** The pair `sms-ws fleet-key --json` printed: the nodes sign with it, the CLI checks with it. */
let fleetKey = { FLEET_SIGNING_KEY: "", FLEET_PUBLIC_KEY: "" };

/** Values of this run for the docs' placeholders. */
function values(): Record<string, string> {
  return { T: "ta", A: "a1", HASH_PREFIX: keyPrefix, KID: "no-such-signer", S: "no-such-sub", N: "no-such-node", MS: "1500", id: otherId, KEY: fleetKey.FLEET_PUBLIC_KEY };
}

/** The documented line as bash runs it here. */
function expand(line: string, v: Record<string, string>): string {
  return line
    .replace("<same selectors, at least one>", "[--tenant T]")
    .replace("<id>", v.id ?? "<id>")
    .replace(/\[(--[a-z-]+)(?: ([A-Z_]+))?\]/g, (_m, flag: string, ph?: string) => (ph === undefined ? flag : `${flag} ${v[ph] ?? ph}`))
    .replace(/^nats (--user admin )?\.\.\. /, "nats --user admin --password ... --inbox-prefix _INBOX_admin ")
    .replace("--password ...", '--password "$ADMIN_PASSWORD"')
    .replace("NATS_PASSWORD=...", 'NATS_PASSWORD="$ADMIN_PASSWORD"')
    .replace("NATS_URL=tls://nats:4222", 'NATS_URL="$TEST_NATS_URL"');
}

async function sh(line: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const pass = nats.credentials.admin?.pass ?? "";
  const isNats = line.startsWith("nats ");
  const env: Record<string, string> = {
    PATH: `${home}/bin:${process.env.PATH ?? ""}`,
    // natscli keeps contexts under $HOME/.config: a clean one, so only the flags count.
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    TEST_NATS_URL: nats.url,
    ADMIN_PASSWORD: pass,
    // `nats server passwd --pass "$PASSWORD"`: the plaintext of a credentials Secret.
    PASSWORD: pass,
    NATS_URL: nats.url,
    // sms-ws reads the admin credentials from the environment (docs/operations-fleet.md, "The CLI"); nats gets them as flags.
    ...(isNats ? {} : { NATS_USER: "admin", NATS_PASSWORD: pass }),
  };
  try {
    const r = await run("bash", ["-c", expand(line, values())], { env, timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? String(err) };
  }
}

/** The documented line (it must be in the docs, runnable), run. */
async function documented(line: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const c = commands.find((x) => x.line === line);
  expect(c, `"${line}" is not (any more) a command in ${DOCS.join(", ")}`).toBeDefined();
  expect(c?.needs).toBeUndefined();
  return sh(line);
}

/** The runnable commands this file covers, each by an `it` below. */
const COVERED = [
  "NATS_URL=tls://nats:4222 NATS_USER=admin NATS_PASSWORD=... sms-ws provision",
  "sms-ws provision --print-nats-config",
  "nats --user admin --password ... --inbox-prefix _INBOX_admin micro ls",
  "nats ... micro info sms-ws-gateway",
  "nats ... micro info sms-ws-gateway <id>",
  'nats server passwd --pass "$PASSWORD"',
  "nats ... micro stats sms-ws-gateway",
  "sms-ws fleet-key [--json]",
  "sms-ws conns [--tenant T] [--app A] [--key HASH_PREFIX] [--signer KID] [--sub S] [--node N] [--json] [--timeout MS] [--fleet-public-key KEY]",
  "sms-ws top   [--once] [--json] [--interval MS] [--fleet-public-key KEY]",
  "sms-ws kick  <same selectors, at least one> [--json] [--fleet-public-key KEY]",
  `nats --user admin ... kv put sms_tenants acme '{"maxConnections": 500}'`,
];

beforeAll(async () => {
  // Fails (never skips) without the pinned CLI, naming the go install line.
  bin = natsCliBinary();
  home = mkdtempSync(join(tmpdir(), "smsws-opsdocs-"));
  const binDir = join(home, "bin");
  mkdirSync(binDir);
  writeFileSync(join(binDir, "sms-ws"), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(root, "dist/cli/main.js"))} "$@"\n`);
  writeFileSync(join(binDir, "nats"), `#!/bin/sh\nexec ${JSON.stringify(bin)} "$@"\n`);
  chmodSync(join(binDir, "sms-ws"), 0o755);
  chmodSync(join(binDir, "nats"), 0o755);
  nats = await startSecureNats();
  admin = await nats.connect("admin");
}, 60_000);

afterAll(async () => {
  for (const s of sockets) s.ws.terminate();
  for (const n of nodes) {
    n.child.kill("SIGKILL");
    await n.exited;
  }
  await admin?.close();
  await nats?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

interface ServiceInfo {
  id: string;
  name: string;
  version: string;
  metadata: Record<string, string>;
  endpoints: { name: string; subject: string; queue_group?: string }[];
}

/** The nodes' own answers to $SRV.INFO (micro protocol), as the admin user: what the CLI must show. */
async function serviceInfos(count: number): Promise<ServiceInfo[]> {
  const inbox = createInbox("_INBOX_admin");
  const sub = admin.subscribe(inbox, { max: count, timeout: 5000 });
  admin.publish("$SRV.INFO.sms-ws-gateway", "", { reply: inbox });
  const out: ServiceInfo[] = [];
  for await (const m of sub) out.push(m.json<ServiceInfo>());
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

/** Rows of one of natscli's tables: the cells between the box-drawing bars. */
function tableRows(text: string): string[][] {
  return text
    .split("\n")
    .filter((l) => l.startsWith("│"))
    .map((l) => l.split("│").slice(1, -1).map((c) => c.trim()));
}

let infos: ServiceInfo[] = [];

describe("docs/operations-*.md commands", () => {
  it("every fenced command is covered here or its block says what it needs", () => {
    const runnable = commands.filter((c) => c.needs === undefined).map((c) => c.line);
    expect(runnable.sort()).toEqual([...COVERED].sort());
    // A needs-block may hold only what needs a cluster, Docker or Go: no sms-ws or nats line hides there.
    for (const c of commands.filter((x) => x.needs !== undefined)) expect(c.line, `${c.doc}: ${c.needs}`).toMatch(/^(?:(?:docker|kubectl|for|--from-literal|done)\b|GOBIN=)/);
  });

  it("the documented `go install` lines build the versions.json pins", () => {
    const installs = commands.filter((c) => c.line.includes(" go install ")).map((c) => c.line.replace(/^.* go install /, ""));
    const pins = natsPins();
    expect(installs).toEqual([`github.com/nats-io/nats-server/v2@${pins?.natsServer}`, `github.com/nats-io/natscli/nats@${pins?.natscli}`]);
  });

  it("`sms-ws provision` as admin creates the stream and the buckets", async () => {
    const r = await documented("NATS_URL=tls://nats:4222 NATS_USER=admin NATS_PASSWORD=... sms-ws provision");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/SMS_EVENTS/);
    // The fleet key the nodes sign with, made as the docs say.
    const k = await documented("sms-ws fleet-key [--json]");
    expect(k.code, k.stderr).toBe(0);
    fleetKey = JSON.parse(k.stdout) as typeof fleetKey;
    expect(fleetKey.FLEET_SIGNING_KEY).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(fleetKey.FLEET_PUBLIC_KEY).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The fleet of this file: two serve processes on the provisioned server, one app socket each.
    const key = await createKey(await openBucket(admin, "sms_api_keys"), { role: "app", tenantId: "ta", appId: "a1" });
    keyPrefix = key.keyHash.slice(0, 8);
    for (let i = 0; i < 2; i++) nodes.push(await startNodeProcess(nats.url, { NATS_USER: "gateway", NATS_PASSWORD: nats.credentials.gateway?.pass ?? "", FLEET_SIGNING_KEY: fleetKey.FLEET_SIGNING_KEY }));
    for (const n of nodes) sockets.push(await TestClient.authed(n.url, key.apiKey));
    infos = await serviceInfos(2);
    expect(infos.map((i) => Number(i.metadata.pid)).sort()).toEqual(nodes.map((n) => n.child.pid).sort());
  });

  it("`sms-ws provision --print-nats-config` prints k8s/base/nats-auth.conf", async () => {
    const r = await documented("sms-ws provision --print-nats-config");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(root, "k8s/base/nats-auth.conf"), "utf8"));
  });

  it("`nats micro ls` lists both nodes: name, version, service id, description", async () => {
    const r = await documented("nats --user admin --password ... --inbox-prefix _INBOX_admin micro ls");
    expect(r.code, r.stderr).toBe(0);
    const rows = tableRows(r.stdout);
    expect(rows.slice(0, 2)).toEqual([["All Services"], ["Name", "Version", "ID", "Description"]]);
    // One row per instance; natscli leaves the repeated name, version and description blank.
    const ids = rows.slice(2).map((row) => row[2]);
    expect(ids.sort()).toEqual(infos.map((i) => i.id));
    expect(rows[2]?.slice(0, 2)).toEqual(["sms-ws-gateway", VERSION]);
    expect(rows[2]?.[3]).toMatch(/connections, kick, per-tenant stats/);
  });

  it("`nats micro info sms-ws-gateway` shows one node: id, version, metadata host and pid, the three endpoints", async () => {
    const r = await documented("nats ... micro info sms-ws-gateway");
    expect(r.code, r.stderr).toBe(0);
    const id = /Service: sms-ws-gateway \((\w+)\)/.exec(r.stdout)?.[1];
    const info = infos.find((i) => i.id === id);
    expect(info, r.stdout).toBeDefined();
    expect(r.stdout).toMatch(new RegExp(`Version: ${VERSION.replace(/\./g, "\\.")}\\n`));
    expect(r.stdout).toMatch(new RegExp(`Metadata: host: ${info?.metadata.host}\\s+pid: ${info?.metadata.pid}\\n`));
    for (const e of ["conns", "kick", "stats"]) expect(r.stdout).toMatch(new RegExp(`Name: ${e}\\n\\s+Subject: sms-ws\\.fleet\\.${e}\\n`));
    // No queue group: every node answers every request.
    expect(r.stdout.match(/Requests: \d+ in group ""/g)).toHaveLength(3);
    otherId = infos.find((i) => i.id !== id)?.id ?? "";
  });

  it("`nats micro info sms-ws-gateway <id>` shows the node of that service id", async () => {
    const r = await documented("nats ... micro info sms-ws-gateway <id>");
    expect(r.code, r.stderr).toBe(0);
    const info = infos.find((i) => i.id === otherId);
    expect(r.stdout).toContain(`Service: sms-ws-gateway (${otherId})`);
    expect(r.stdout).toMatch(new RegExp(`pid: ${info?.metadata.pid}\\n`));
  });

  it("`nats server passwd` prints a bcrypt hash the server accepts through the Secret's variable (k8s/base/nats-auth.conf)", async () => {
    const r = await documented('nats server passwd --pass "$PASSWORD"');
    expect(r.code, r.stderr).toBe(0);
    const hash = r.stdout.trim();
    expect(hash).toMatch(/^\$2a\$11\$[./A-Za-z0-9]{53}$/);
    // nats-auth.conf reads each password from a variable (password: $NATS_..._PASSWORD): here the hash.
    const file = join(home, "hashed.conf");
    writeFileSync(file, renderAuthorization({ roles: ["admin"] }), { mode: 0o600 });
    const variable = PERMISSIONS.admin.passwordEnv;
    process.env[variable] = hash;
    let hashed: EmbeddedNats;
    try {
      hashed = await startNatsServer({ args: ["-c", file], jetstream: false });
    } finally {
      delete process.env[variable];
    }
    try {
      const plaintext = nats.credentials.admin?.pass ?? "";
      const nc = await connect({ servers: hashed.url, user: PERMISSIONS.admin.user, pass: plaintext, reconnect: false });
      await nc.flush();
      await nc.close();
      await expect(connect({ servers: hashed.url, user: PERMISSIONS.admin.user, pass: hash, reconnect: false })).rejects.toThrow(/Authorization Violation/i);
    } finally {
      await hashed.stop();
    }
  });

  it("`sms-ws conns` accepts every documented selector and flag (nothing matches all of them: no rows, no node missing)", async () => {
    const r = await documented("sms-ws conns [--tenant T] [--app A] [--key HASH_PREFIX] [--signer KID] [--sub S] [--node N] [--json] [--timeout MS] [--fleet-public-key KEY]");
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { rows: unknown[]; nodes: { id: string }[]; missing: unknown[]; verified: boolean; unverified: number };
    // Every answer checked against the documented fleet public key.
    expect([out.verified, out.unverified]).toEqual([true, 0]);
    expect(out.rows).toEqual([]);
    expect(out.nodes.map((n) => n.id).sort()).toEqual(infos.map((i) => i.id));
    expect(out.missing).toEqual([]);
  });

  it("`sms-ws top --once --json` totals the two sockets of tenant ta over both nodes", async () => {
    const r = await documented("sms-ws top   [--once] [--json] [--interval MS] [--fleet-public-key KEY]");
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { rows: { tenant: string; connections: number }[]; nodes: unknown[]; missing: unknown[] };
    expect(out.rows).toEqual([expect.objectContaining({ tenant: "ta", connections: 2 })]);
    expect(out.nodes).toHaveLength(2);
    expect(out.missing).toEqual([]);
  });

  it("`sms-ws kick --tenant ta --json` closes both sockets with 4410", async () => {
    const r = await documented("sms-ws kick  <same selectors, at least one> [--json] [--fleet-public-key KEY]");
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { kicked: number; verified: boolean; unverified: number };
    expect([out.kicked, out.verified, out.unverified]).toEqual([2, true, 0]);
    for (const s of sockets) {
      await s.waitFor(() => s.closed !== undefined);
      expect(s.closed?.code).toBe(4410);
    }
  });

  it("`nats micro stats sms-ws-gateway` counts each node's requests per endpoint (the CLI calls above)", async () => {
    const r = await documented("nats ... micro stats sms-ws-gateway");
    expect(r.code, r.stderr).toBe(0);
    const rows = tableRows(r.stdout);
    expect(rows[1]).toEqual(["ID", "Endpoint", "Requests", "Queue Group", "Errors", "Processing Time", "Average Time"]);
    const requests = new Map<string, number>();
    let id = "";
    for (const row of rows.slice(2)) {
      if (row[1] === "") continue; // the total row
      id = row[0] || id;
      requests.set(`${id} ${row[1]}`, Number(row[2]));
    }
    // Per node: conns once, top's two stats samples, kick once (no queue group: every node answers).
    const expected = new Map(infos.flatMap((i) => [[`${i.id} conns`, 1], [`${i.id} kick`, 1], [`${i.id} stats`, 2]] as [string, number][]));
    expect(requests).toEqual(expected);
  });

  it("`nats kv put sms_tenants` as admin stores a tenant quota", async () => {
    const r = await documented(`nats --user admin ... kv put sms_tenants acme '{"maxConnections": 500}'`);
    expect(r.code, r.stderr).toBe(0);
    const entry = await (await openBucket(admin, "sms_tenants")).get("acme");
    expect(entry?.json()).toEqual({ maxConnections: 500 });
  });
});
