/**
 * The nats-server `accounts` block, rendered from the permission matrix (src/bus/permissions.ts):
 * each role's user in its account, and the exports/imports that connect the accounts, derived
 * from the grants (`Grant.from`): nothing crosses an account boundary that no grant names.
 * Printed by `sms-ws provision --print-nats-config` (k8s/base/nats-auth.conf), run by the
 * secured test servers (test/helpers/secure-nats.ts, secure-cluster.ts).
 */
import { BUCKET_MAX_CONSUMERS } from "./buckets.js";
import { partitionMapping } from "./partitions.js";
import { ACCOUNTS, DEFAULT_ROLES, PERMISSIONS, permissionMatrix, type AccountName, type PermissionMatrix, type RoleName, type Rules } from "./permissions.js";
import { STREAM_MAX_CONSUMERS } from "./stream.js";

/** One export of an account: a service (requests in, answers out) or a stream (messages out). */
export interface AccountExport {
  readonly kind: "service" | "stream";
  readonly subject: string;
  /** The accounts allowed to import it (private exports only). */
  readonly to: readonly AccountName[];
  /** A service answered by several messages. */
  readonly streamed: boolean;
}

export interface AccountImport {
  readonly kind: "service" | "stream";
  readonly subject: string;
  readonly from: AccountName;
}

export interface AccountModel {
  readonly name: AccountName;
  readonly roles: readonly RoleName[];
  /** JetStream is enabled in DATA only; the value is its per-stream consumer cap (see jetstreamLimits). */
  readonly jetstream: boolean;
  readonly exports: readonly AccountExport[];
  readonly imports: readonly AccountImport[];
}

/**
 * nats-server's account `max_consumers` caps the consumers of *each* stream of the account
 * (measured on 2.9.10 and 2.15.3: two streams with 3 consumers each under a cap of 3; a stream
 * whose own max_consumers exceeds it cannot be created). So it is the per-stream bound that holds
 * on every server version, also for streams created before provisioning set their own
 * max_consumers (which nats-server 2.9 cannot change on an update).
 */
export function jetstreamLimits(): { maxConsumers: number } {
  return { maxConsumers: Math.max(STREAM_MAX_CONSUMERS, BUCKET_MAX_CONSUMERS) };
}

/** The three accounts for these roles: users, and the exports/imports their grants need. */
export function accountsModel(matrix: PermissionMatrix = PERMISSIONS, roles: readonly RoleName[] = DEFAULT_ROLES): AccountModel[] {
  const exports = new Map<AccountName, Map<string, { kind: "service" | "stream"; subject: string; to: Set<AccountName>; streamed: boolean }>>();
  const imports = new Map<AccountName, Map<string, AccountImport>>();
  const add = (kind: "service" | "stream", subject: string, from: AccountName, to: AccountName, streamed: boolean): void => {
    const key = `${kind} ${subject}`;
    const out = exports.get(from) ?? new Map();
    exports.set(from, out);
    const e = out.get(key) ?? { kind, subject, to: new Set<AccountName>(), streamed };
    e.to.add(to);
    e.streamed ||= streamed;
    out.set(key, e);
    const into = imports.get(to) ?? new Map<string, AccountImport>();
    imports.set(to, into);
    into.set(`${key} ${from}`, { kind, subject, from });
  };
  for (const role of roles) {
    const p = matrix[role];
    for (const x of p.publish.allow) if (x.from !== undefined && x.from !== p.account) add("service", x.subject, x.from, p.account, x.streamed === true);
    for (const x of p.subscribe.allow) if (x.from !== undefined && x.from !== p.account) add("stream", x.subject, x.from, p.account, false);
  }
  return ACCOUNTS.map((name) => ({
    name,
    roles: roles.filter((r) => matrix[r].account === name),
    jetstream: name === "DATA",
    exports: [...(exports.get(name)?.values() ?? [])].map((e) => ({ kind: e.kind, subject: e.subject, to: [...e.to].sort(), streamed: e.streamed })),
    imports: [...(imports.get(name)?.values() ?? [])],
  }));
}

export interface RenderOptions {
  /** Roles to include (default: DEFAULT_ROLES). */
  roles?: readonly RoleName[];
  /** Literal passwords per role; a role without one gets `$<passwordEnv>` (read from the environment). */
  passwords?: Partial<Record<RoleName, string>>;
  /** User names per role (default: the matrix's). */
  users?: Partial<Record<RoleName, string>>;
  /** STREAM_PARTITIONS: the matrix's partition grants, and the producers' subject mapping (K > 1). */
  partitions?: number;
  /** Render the partition mapping when partitions > 1 (default true; off: the migration's first step). */
  mapping?: boolean;
  /** The matrix (default: the one for `partitions`). */
  matrix?: PermissionMatrix;
}

const SAFE_PASSWORD = /^[A-Za-z0-9._~+/=-]{16,256}$/;
const SAFE_USER = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The nats-server `accounts { ... }` block for these roles. There is no `no_auth_user`: a
 * connection without credentials is refused. With STREAM_PARTITIONS=K > 1 the producers' subject
 * mapping is in PRODUCER, the account they publish in: it applies before the service import
 * carries the message to DATA (verified on 2.9.10 and 2.15.3).
 */
export function renderAuthorization(options: RenderOptions = {}): string {
  const partitions = options.partitions ?? 1;
  const matrix = options.matrix ?? permissionMatrix({ partitions });
  const roles = options.roles ?? DEFAULT_ROLES;
  const mapping = options.mapping === false ? undefined : partitionMapping(partitions);
  const out: string[] = [
    "# NATS accounts and users of sms-ws-gateway, rendered from src/bus/permissions.ts",
    "# (`sms-ws provision --print-nats-config`): change the matrix there, then re-render.",
    "# DATA holds JetStream (stream, buckets) and the admin; GATEWAY the nodes; PRODUCER the",
    "# producers. Replies to GATEWAY's and PRODUCER's requests go back to their own account, where",
    "# no bucket or stream exists. No no_auth_user: a client without credentials is refused.",
    "accounts {",
  ];
  for (const account of accountsModel(matrix, roles)) {
    out.push(`  ${account.name} {`);
    if (account.jetstream) out.push(`    jetstream: { max_consumers: ${jetstreamLimits().maxConsumers} }`);
    if (account.roles.length > 0) {
      out.push("    users: [");
      for (const role of account.roles) out.push(...renderUser(matrix, role, options));
      out.push("    ]");
    }
    if (account.exports.length > 0) {
      out.push("    exports: [");
      for (const e of account.exports) {
        const response = e.kind === "service" && e.streamed ? ", response_type: stream" : "";
        out.push(`      { ${e.kind}: ${quote(e.subject)}, accounts: [${e.to.join(", ")}]${response} }`);
      }
      out.push("    ]");
    }
    if (account.imports.length > 0) {
      out.push("    imports: [");
      for (const i of account.imports) out.push(`      { ${i.kind}: { account: ${i.from}, subject: ${quote(i.subject)} } }`);
      out.push("    ]");
    }
    if (account.name === "PRODUCER" && mapping !== undefined) {
      out.push(`    # STREAM_PARTITIONS=${partitions}: producers' subjects -> partition streams (src/bus/partitions.ts;`);
      out.push("    # docs/partitioning.md). Nodes must run with the same STREAM_PARTITIONS.");
      out.push(`    mappings: { ${quote(mapping.src)}: ${quote(mapping.dest)} }`);
    }
    out.push("  }");
  }
  out.push("}");
  return `${out.join("\n")}\n`;
}

function renderUser(matrix: PermissionMatrix, role: RoleName, options: RenderOptions): string[] {
  const p = matrix[role];
  const user = options.users?.[role] ?? p.user;
  if (!SAFE_USER.test(user)) throw new Error(`NATS user name for role ${role} must match ${SAFE_USER}: got ${JSON.stringify(user)}`);
  const literal = options.passwords?.[role];
  if (literal !== undefined && !SAFE_PASSWORD.test(literal)) {
    throw new Error(`NATS password for role ${role} must be 16-256 characters of [A-Za-z0-9._~+/=-]`);
  }
  return [
    `      # ${role}: ${p.who.split(":")[0]}`,
    "      {",
    `        user: ${quote(user)}`,
    `        password: ${literal === undefined ? `$${p.passwordEnv}` : quote(literal)}`,
    "        permissions: {",
    ...renderRules("publish", p.publish, role),
    ...renderRules("subscribe", p.subscribe, role),
    "        }",
    "      }",
  ];
}

function renderRules(kind: "publish" | "subscribe", r: Rules, role: RoleName): string[] {
  // nats-server reads a missing allow list as "everything": a role must allow something or
  // deny everything, never neither.
  if (r.allow.length === 0 && !r.deny.some((d) => d.subject === ">")) {
    throw new Error(`role ${role}: ${kind} allows nothing and does not deny ">": nats-server would allow everything`);
  }
  const lines = [`          ${kind}: {`];
  for (const [name, list] of [["allow", r.allow], ["deny", r.deny]] as const) {
    if (list.length === 0) continue;
    lines.push(`            ${name}: [`);
    for (const x of list) lines.push(`              ${quote(x.subject)}`);
    lines.push("            ]");
  }
  lines.push("          }");
  return lines;
}

function quote(s: string): string {
  if (/["\\\s]/.test(s)) throw new Error(`cannot quote ${JSON.stringify(s)} for nats.conf`);
  return `"${s}"`;
}
