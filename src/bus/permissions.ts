/**
 * Who may do what on the bus: the NATS permission matrix, as data, and the one place it is
 * written down. Everything else is rendered from it or checked against it: the nats-server
 * `authorization` block (`sms-ws provision --print-nats-config`, k8s/base/nats.conf), the table in
 * docs/security.md, and the secured nats-server the integration tests run against.
 *
 * Subjects are the exact ones the real clients use (@nats-io/jetstream and @nats-io/kv 3.x,
 * nats-server 2.9+), found by running each operation against a server that refused everything
 * else (test/integration/nats-permissions.test.ts keeps proving them):
 *   - kv.watch(): `$JS.API.STREAM.INFO.KV_<b>`, then an ordered *push* consumer,
 *     `$JS.API.CONSUMER.CREATE.KV_<b>.<name>.$KV.<b>.>`, flow-control replies on `$JS.FC.KV_<b>.>`.
 *   - kv.get(): `$JS.API.STREAM.MSG.GET.KV_<b>` (bucket opened without allow_direct) or
 *     `$JS.API.DIRECT.GET.KV_<b>[.<subject>]` (allow_direct).
 *   - kv.put()/delete()/purge(): a publish to `$KV.<b>.<key>` (that is the whole write path: no
 *     JetStream API call is involved, which is why `$KV.>` must never be publishable by a reader).
 *   - stream reads (resume, gap repair): `$JS.API.CONSUMER.CREATE.SMS_EVENTS.<name>.<filter>`
 *     (nats-server 2.9+ form; `$JS.API.CONSUMER.CREATE.SMS_EVENTS` for several filters), then
 *     `CONSUMER.INFO`, `CONSUMER.MSG.NEXT`, `CONSUMER.DELETE` on `SMS_EVENTS.<name>`.
 *   - jetstreamManager(): `$JS.API.INFO`; stream info: `$JS.API.STREAM.INFO.<stream>`.
 *   - JetStream publish with ack: a publish to `in.sms.>` and the ack on the producer's inbox.
 *
 * No role gets `allow_responses`. nats-server lets a reply through even where the publish deny
 * list matches, so a user allowed to answer requests and to publish on a subject it also
 * subscribes to (the fleet subjects) could send itself a request whose reply subject is
 * `$KV.sms_api_keys.<hash>` and answer it: an admin key (the integration test shows it is
 * refused). The gateway answers service requests on the admin inbox, named explicitly instead.
 */
import { BUCKETS } from "./buckets.js";
import { DURABLE_PREFIX, LIVE_PREFIX, STREAM_NAME } from "./contract.js";
import { partitionStream } from "./partitions.js";

export type RoleName = "gateway" | "producer" | "admin" | "directProducer";

/** The roles a deployment configures by default. `directProducer` is opt-in (see its `why`). */
export const DEFAULT_ROLES: readonly RoleName[] = Object.freeze(["gateway", "producer", "admin"]);

/** Name of the NATS micro-service every gateway node registers (docs/security.md, the permission matrix). */
export const SERVICE_NAME = "sms-ws-gateway";
/** Subjects of fleet traffic between nodes and the fleet CLI (quota counts, service endpoints). */
export const FLEET_PREFIX = "sms-ws.fleet";

/** One allowed or denied subject, and why it is there. */
export interface Grant {
  readonly subject: string;
  readonly why: string;
}

export interface Rules {
  readonly allow: readonly Grant[];
  /** Denied even when a later edit widens `allow` (a deny always wins in nats-server). */
  readonly deny: readonly Grant[];
}

export interface RolePermissions {
  readonly role: RoleName;
  /** Default NATS user name. */
  readonly user: string;
  /** Environment variable that holds the password on the NATS servers (`$NAME` in nats.conf). */
  readonly passwordEnv: string;
  /** Who connects with it. */
  readonly who: string;
  /**
   * Inbox prefix the client must connect with (nats.js `inboxPrefix`): replies, JetStream
   * deliveries and acks for this role arrive under `<prefix>.>`, which no other role can
   * subscribe to. Producers keep the client default `_INBOX`, so they need no extra setting.
   */
  readonly inboxPrefix: string;
  readonly publish: Rules;
  readonly subscribe: Rules;
  /** Not in the default deployment; an operator adds it knowingly. */
  readonly optIn: boolean;
}

export type PermissionMatrix = Readonly<Record<RoleName, RolePermissions>>;

export interface BusNames {
  stream: string;
  /** STREAM_PARTITIONS: with K > 1 the gateway reads SMS_EVENTS_0..K-1 (docs/partitioning.md). */
  partitions: number;
  apiKeys: string;
  tokenSigners: string;
  revokedTokens: string;
  tenants: string;
}

const DEFAULT_NAMES: BusNames = {
  stream: STREAM_NAME,
  partitions: 1,
  apiKeys: BUCKETS.apiKeys,
  tokenSigners: BUCKETS.tokenSigners,
  revokedTokens: BUCKETS.revokedTokens,
  tenants: BUCKETS.tenants,
};

const g = (subject: string, why: string): Grant => ({ subject, why });
/** Rules with each subject once (the first reason given wins). */
const rules = (allow: Grant[], deny: Grant[] = []): Rules => ({ allow: distinct(allow), deny: distinct(deny) });

function distinct(list: Grant[]): readonly Grant[] {
  const seen = new Set<string>();
  const out: Grant[] = [];
  for (const x of list) {
    if (seen.has(x.subject)) continue;
    seen.add(x.subject);
    out.push(x);
  }
  return Object.freeze(out);
}

/** JetStream API subjects that read one stream through ephemeral consumers. */
function consumerRead(stream: string, why: string, pull: boolean): Grant[] {
  return [
    g(`$JS.API.CONSUMER.CREATE.${stream}`, `${why}: create an ephemeral consumer (several filters)`),
    g(`$JS.API.CONSUMER.CREATE.${stream}.>`, `${why}: create an ephemeral consumer (nats-server 2.9+ named/filtered form)`),
    g(`$JS.API.CONSUMER.INFO.${stream}.*`, `${why}: pending count of its consumer`),
    g(`$JS.API.CONSUMER.DELETE.${stream}.*`, `${why}: delete its consumer when done`),
    ...(pull ? [g(`$JS.API.CONSUMER.MSG.NEXT.${stream}.*`, `${why}: fetch a batch`)] : []),
  ];
}

/** Everything needed to open, get from and watch one KV bucket, read-only. */
function bucketRead(bucket: string, why: string): Grant[] {
  const stream = `KV_${bucket}`;
  return [
    g(`$JS.API.STREAM.INFO.${stream}`, `${why}: open the bucket, its status`),
    ...consumerRead(stream, `${why}: watch`, false),
    g(`$JS.API.STREAM.MSG.GET.${stream}`, `${why}: get one key`),
    g(`$JS.API.DIRECT.GET.${stream}`, `${why}: get one key (allow_direct)`),
    g(`$JS.API.DIRECT.GET.${stream}.>`, `${why}: get one key by subject (allow_direct)`),
    g(`$JS.FC.${stream}.>`, `${why}: flow-control replies of the watch (ordered push consumer)`),
  ];
}

function streamAdmin(stream: string, what: string): Grant[] {
  return [
    g(`$JS.API.STREAM.INFO.${stream}`, `provision: check ${what}`),
    g(`$JS.API.STREAM.CREATE.${stream}`, `provision: create ${what}`),
    g(`$JS.API.STREAM.UPDATE.${stream}`, `provision: bring ${what} to the configured limits`),
  ];
}

/** The matrix for these stream and bucket names (KEY_BUCKET may rename the API-key bucket). */
export function permissionMatrix(overrides: Partial<BusNames> = {}): PermissionMatrix {
  const n: BusNames = { ...DEFAULT_NAMES, ...overrides };
  const buckets = [
    { name: n.apiKeys, what: "API keys" },
    { name: n.tokenSigners, what: "token signers" },
    { name: n.revokedTokens, what: "revoked tokens" },
    { name: n.tenants, what: "tenant quotas" },
  ];
  const s = n.stream;
  // The streams the gateway reads: the single one, or each partition's.
  const read = n.partitions > 1 ? Array.from({ length: n.partitions }, (_, k) => partitionStream(k, n.partitions)) : [s];
  const live = `${LIVE_PREFIX}.>`;
  const durable = `${DURABLE_PREFIX}.>`;
  const services = [`$SRV.*`, `$SRV.*.${SERVICE_NAME}`, `$SRV.*.${SERVICE_NAME}.*`];

  const gateway: RolePermissions = {
    role: "gateway",
    user: "gateway",
    passwordEnv: "NATS_GATEWAY_PASSWORD",
    who: "the gateway nodes (`sms-ws serve`)",
    inboxPrefix: "_INBOX_gateway",
    publish: rules(
      [
        g("$JS.API.INFO", "JetStream account check (every jetstreamManager)"),
        ...read.flatMap((r) => [
          g(`$JS.API.STREAM.INFO.${r}`, "stream epoch and last sequence (auth_ok, resume, readiness)"),
          ...consumerRead(r, "resume, history and gap repair", true),
          g(`$JS.API.DIRECT.GET.${r}`, "history: one stored event by sequence or time (read-only)"),
          g(`$JS.API.DIRECT.GET.${r}.>`, "history: last stored event of a subject (read-only)"),
        ]),
        ...buckets.flatMap((b) => bucketRead(b.name, b.what)),
        g(`${FLEET_PREFIX}.>`, "fleet: per-tenant counts shared between nodes"),
        g("_INBOX_admin.>", "replies to the fleet CLI's service requests (conns, kick, stats): the admin inbox only"),
      ],
      [
        g("$KV.>", "never write a key, signer, revocation or quota"),
        g(durable, "never inject an event into the stream"),
        g(live, "never publish a live event (only the stream republishes there)"),
        g("$JS.API.STREAM.CREATE.>", "no stream administration"),
        g("$JS.API.STREAM.UPDATE.>", "no stream administration"),
        g("$JS.API.STREAM.DELETE.>", "no stream administration"),
        g("$JS.API.STREAM.PURGE.>", "no stream administration"),
        g("$JS.API.STREAM.MSG.DELETE.>", "no stream administration"),
        g("$JS.API.CONSUMER.DURABLE.CREATE.>", "no durable consumers"),
      ],
    ),
    subscribe: rules(
      [
        g(live, "live events, on demand per scope (`sms.<t>.<a>.*`), `sms.>` for admin sockets"),
        g("_INBOX_gateway.>", "its own replies: JetStream API answers, consumer deliveries"),
        ...services.map((subject) => g(subject, `NATS micro-service discovery of ${SERVICE_NAME} (PING, INFO, STATS)`)),
        g(`${FLEET_PREFIX}.>`, "fleet: counts from the other nodes, service endpoints"),
      ],
      // No subscribe deny: nats-server checks subscribe denies against the subject of every
      // message delivered, and watch/read deliveries carry `$KV.<b>.<key>` and `in.sms.<...>`.
    ),
    optIn: false,
  };

  const producer: RolePermissions = {
    role: "producer",
    user: "producer",
    passwordEnv: "NATS_PRODUCER_PASSWORD",
    who: "the SMS platform: publishes events on the durable path (`sms-ws publish`, `sms-ws-gateway/publisher`)",
    inboxPrefix: "_INBOX",
    publish: rules(
      [g(durable, "events on the durable path (JetStream publish into SMS_EVENTS)")],
      [
        g(live, "no direct path: only the stream publishes live events, so Nats-Sequence cannot be forged"),
        g("$KV.>", "never write a key, signer, revocation or quota"),
        g("$JS.API.>", "no JetStream administration or reads"),
      ],
    ),
    subscribe: rules(
      [g("_INBOX.>", "JetStream publish acks")],
      [g(live, "producers do not read the live events")],
    ),
    optIn: false,
  };

  const admin: RolePermissions = {
    role: "admin",
    user: "admin",
    passwordEnv: "NATS_ADMIN_PASSWORD",
    who: "operators: `sms-ws provision`, `keys`, `signers`, `tokens`, and the fleet CLI",
    inboxPrefix: "_INBOX_admin",
    publish: rules(
      [
        g("$JS.API.INFO", "JetStream account check"),
        ...streamAdmin(s, `stream ${s}`),
        ...(n.partitions > 1 ? read.flatMap((r) => streamAdmin(r, `partition stream ${r}`)) : []),
        ...buckets.flatMap((b) => [
          ...streamAdmin(`KV_${b.name}`, `bucket ${b.name}`),
          g(`$KV.${b.name}.>`, `write ${b.what} (create, update, revoke)`),
          ...bucketRead(b.name, `list ${b.what}`),
        ]),
        ...services.map((subject) => g(subject, `fleet CLI: discover and query the ${SERVICE_NAME} nodes`)),
        g(`${FLEET_PREFIX}.>`, "fleet CLI: requests to the nodes (conns, kick, top)"),
      ],
      [
        g(durable, "operators do not publish events"),
        g(live, "operators do not publish events"),
        g("$JS.API.STREAM.DELETE.>", "deleting a stream or bucket is a break-glass action, not a role"),
        g("$JS.API.STREAM.PURGE.>", "purging a stream or bucket is a break-glass action, not a role"),
      ],
    ),
    subscribe: rules(
      [g("_INBOX_admin.>", "its own replies and KV listings")],
      [g(live, "operators do not read the events")],
    ),
    optIn: false,
  };

  const directProducer: RolePermissions = {
    role: "directProducer",
    user: "direct-producer",
    passwordEnv: "NATS_DIRECT_PRODUCER_PASSWORD",
    who:
      "opt-in: a producer on the direct path (core NATS, no stream). Whoever holds it can publish " +
      "any live event with a forged Nats-Sequence header and events are never durable: add it only " +
      "when the direct path is wanted",
    inboxPrefix: "_INBOX",
    publish: rules(
      [g(`${LIVE_PREFIX}.*.*.status`, "status events, direct path"), g(`${LIVE_PREFIX}.*.*.inbound`, "inbound SMS, direct path")],
      [g("$KV.>", "never write a key, signer, revocation or quota"), g("$JS.API.>", "no JetStream")],
    ),
    subscribe: rules([], [g(">", "nothing to receive")]),
    optIn: true,
  };

  return Object.freeze({ gateway, producer, admin, directProducer });
}

/** The matrix for the default stream and bucket names. */
export const PERMISSIONS: PermissionMatrix = permissionMatrix();

/** Whether a subject pattern (`*`: one token, `>`: one or more trailing tokens) matches a subject. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const t = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return t.length > i;
    if (i >= t.length || (p[i] !== "*" && p[i] !== t[i])) return false;
  }
  return p.length === t.length;
}

/** Whether rules let a subject through, as nats-server decides: some allow matches, no deny does. */
export function permits(r: Rules, subject: string): boolean {
  return r.allow.some((x) => subjectMatches(x.subject, subject)) && !r.deny.some((x) => subjectMatches(x.subject, subject));
}

// ---- nats-server configuration -----------------------------------------------------------------

export interface RenderOptions {
  /** Roles to include (default: DEFAULT_ROLES). */
  roles?: readonly RoleName[];
  /** Literal passwords per role; a role without one gets `$<passwordEnv>` (read from the environment). */
  passwords?: Partial<Record<RoleName, string>>;
  /** User names per role (default: the matrix's). */
  users?: Partial<Record<RoleName, string>>;
  /** The matrix (default: PERMISSIONS). */
  matrix?: PermissionMatrix;
}

const SAFE_PASSWORD = /^[A-Za-z0-9._~+/=-]{16,256}$/;
const SAFE_USER = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The nats-server `authorization { users: [...] }` block for these roles. There is no
 * `no_auth_user`: a connection without credentials is refused.
 */
export function renderAuthorization(options: RenderOptions = {}): string {
  const matrix = options.matrix ?? PERMISSIONS;
  const roles = options.roles ?? DEFAULT_ROLES;
  const out: string[] = [
    "# NATS users of sms-ws-gateway, rendered from src/bus/permissions.ts",
    "# (`sms-ws provision --print-nats-config`): change the matrix there, then re-render.",
    "# No no_auth_user: a client without credentials is refused.",
    "authorization {",
    "  users: [",
  ];
  for (const role of roles) {
    const p = matrix[role];
    const user = options.users?.[role] ?? p.user;
    if (!SAFE_USER.test(user)) throw new Error(`NATS user name for role ${role} must match ${SAFE_USER}: got ${JSON.stringify(user)}`);
    const literal = options.passwords?.[role];
    if (literal !== undefined && !SAFE_PASSWORD.test(literal)) {
      throw new Error(`NATS password for role ${role} must be 16-256 characters of [A-Za-z0-9._~+/=-]`);
    }
    out.push(`    # ${role}: ${p.who.split(":")[0]}`);
    out.push("    {");
    out.push(`      user: ${quote(user)}`);
    out.push(`      password: ${literal === undefined ? `$${p.passwordEnv}` : quote(literal)}`);
    out.push("      permissions: {");
    out.push(...renderRules("publish", p.publish, role));
    out.push(...renderRules("subscribe", p.subscribe, role));
    out.push("      }");
    out.push("    }");
  }
  out.push("  ]", "}");
  return `${out.join("\n")}\n`;
}

function renderRules(kind: "publish" | "subscribe", r: Rules, role: RoleName): string[] {
  // nats-server reads a missing allow list as "everything": a role must allow something or
  // deny everything, never neither.
  if (r.allow.length === 0 && !r.deny.some((d) => d.subject === ">")) {
    throw new Error(`role ${role}: ${kind} allows nothing and does not deny ">": nats-server would allow everything`);
  }
  const lines = [`        ${kind}: {`];
  for (const [name, list] of [["allow", r.allow], ["deny", r.deny]] as const) {
    if (list.length === 0) continue;
    lines.push(`          ${name}: [`);
    for (const x of list) lines.push(`            ${quote(x.subject)}`);
    lines.push("          ]");
  }
  lines.push("        }");
  return lines;
}

function quote(s: string): string {
  if (/["\\\s]/.test(s)) throw new Error(`cannot quote ${JSON.stringify(s)} for nats.conf`);
  return `"${s}"`;
}

// ---- documentation -----------------------------------------------------------------------------

/** The Markdown tables of docs/security.md (a unit test keeps the document in step). */
export function renderPermissionTables(matrix: PermissionMatrix = PERMISSIONS): string {
  const out: string[] = [];
  for (const role of Object.keys(matrix) as RoleName[]) {
    const p = matrix[role];
    out.push(`#### \`${role}\`${p.optIn ? " (opt-in)" : ""}`, "");
    out.push(`${capitalize(p.who)}. NATS user \`${p.user}\`, password \`$${p.passwordEnv}\`, inbox prefix \`${p.inboxPrefix}\`.`);
    out.push("", "| | subject | why |", "|---|---|---|");
    const rows: [string, readonly Grant[]][] = [
      ["publish", p.publish.allow],
      ["publish **denied**", p.publish.deny],
      ["subscribe", p.subscribe.allow],
      ["subscribe **denied**", p.subscribe.deny],
    ];
    for (const [label, grants] of rows) {
      for (const x of grants) out.push(`| ${label} | \`${x.subject}\` | ${x.why} |`);
    }
    out.push("");
  }
  return out.join("\n");
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
