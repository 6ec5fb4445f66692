/**
 * Who may do what on the bus: the NATS permission matrix and the accounts it lives in, as data,
 * and the one place they are written down. Everything else is rendered from it or checked against
 * it: the nats-server `accounts` block (`sms-ws provision --print-nats-config`, k8s/base), the
 * tables in docs/security.md, and the secured nats-servers the integration tests run against.
 *
 * Accounts (issue 19, V-3). nats-server publishes a JetStream API answer or a publish ack to
 * whatever reply subject the request carried, without checking the requester's publish deny list.
 * In one account a gateway or producer password could therefore write into a KV bucket or the
 * stream (reply subject `$KV.<bucket>.<key>` or `in.sms.<...>`). So the roles live in three accounts:
 *   - DATA (JetStream): the stream(s), the buckets and the `admin` user;
 *   - GATEWAY (no JetStream): `gateway` and the opt-in `direct-producer`;
 *   - PRODUCER (no JetStream): `producer`.
 * A role reaches what another account serves only through an export/import pair, derived below
 * from the grants themselves (`Grant.from`): a publish grant served elsewhere is a service import
 * (the request arrives there with a mapped reply subject `_R_.<...>`, and the answer goes back to
 * the requester's own account, where no bucket or stream exists); a subscribe grant published
 * elsewhere is a stream import. The fleet plane goes the other way: the nodes (GATEWAY) export
 * their service subjects, the admin (DATA) imports them.
 *
 * Subjects are the exact ones the real clients use (@nats-io/jetstream and @nats-io/kv 3.x,
 * nats-server 2.9+), found by running each operation against a server that refused everything
 * else (test/integration/nats-permissions.test.ts keeps proving them):
 *   - kv.watch(): `$JS.API.STREAM.INFO.KV_<b>`, then an ordered *push* consumer (deliveries on the
 *     role's inbox), flow-control replies on `$JS.FC.KV_<b>.>`.
 *   - kv.get(): `$JS.API.STREAM.MSG.GET.KV_<b>` (bucket opened without allow_direct) or
 *     `$JS.API.DIRECT.GET.KV_<b>[.<subject>]` (allow_direct).
 *   - kv.put()/delete()/purge(): a publish to `$KV.<b>.<key>` (that is the whole write path: no
 *     JetStream API call is involved, which is why `$KV.>` must never be publishable by a reader).
 *   - stream reads (resume, gap repair, history): an ordered pull consumer, then `CONSUMER.INFO`,
 *     `CONSUMER.MSG.NEXT` (several messages answer one request: a *stream* response type across
 *     accounts), `CONSUMER.DELETE` on `<stream>.<name>`.
 *   - consumer creation: the client's form `$JS.API.CONSUMER.CREATE.<stream>.<name>[.<filter>]`
 *     also creates *durable* consumers; the legacy form `$JS.API.CONSUMER.CREATE.<stream>` refuses a
 *     durable name (nats-server 2.9 and 2.15: "consumer expected to be ephemeral"). The gateway may
 *     use only the legacy form; its connection rewrites the subject (src/bus/nats-connection.ts).
 *   - jetstreamManager(): `$JS.API.INFO`; stream info: `$JS.API.STREAM.INFO.<stream>`.
 *   - JetStream publish with ack: a publish to `in.sms.>` and the ack on the producer's inbox.
 *
 * No role gets `allow_responses`: a node answers the fleet CLI on `_R_.>`, the mapped reply
 * subjects of the requests that reach GATEWAY through its service exports. `allow_responses`
 * would be wider: the gateway subscribes to the fleet subjects it publishes (counts), so it could
 * send itself a message whose reply subject is `sms-ws.fleet.kick` and "answer" it. In GATEWAY
 * `_R_.>` leads only back to the requesters of those exports (the admin's inbox), and GATEWAY has
 * no bucket or stream a reply could land in.
 */
import { BUCKETS } from "./buckets.js";
import { DURABLE_PREFIX, LIVE_PREFIX, STREAM_NAME } from "./contract.js";
import { partitionStream } from "./partitions.js";

export type RoleName = "gateway" | "producer" | "admin" | "directProducer";

/** The NATS accounts (see the top of this file). */
export type AccountName = "DATA" | "GATEWAY" | "PRODUCER";
export const ACCOUNTS: readonly AccountName[] = Object.freeze(["DATA", "GATEWAY", "PRODUCER"]);

/** The roles a deployment configures by default. `directProducer` is opt-in (see its `why`). */
export const DEFAULT_ROLES: readonly RoleName[] = Object.freeze(["gateway", "producer", "admin"]);

/** Name of the NATS micro-service every gateway node registers (docs/security.md, the permission matrix). */
export const SERVICE_NAME = "sms-ws-gateway";
/** Subjects of fleet traffic between nodes and the fleet CLI (quota counts, service endpoints). */
export const FLEET_PREFIX = "sms-ws.fleet";
/** The nodes' service endpoints the admin may call (`sms-ws conns|kick|top`): `${FLEET_PREFIX}.<name>`. */
export const FLEET_ENDPOINTS: readonly string[] = Object.freeze(["conns", "kick", "stats"]);
/** Where the nodes share their per-tenant counts with each other (GATEWAY only). */
export const FLEET_COUNTS = `${FLEET_PREFIX}.counts`;

/** One allowed or denied subject, and why it is there. */
export interface Grant {
  readonly subject: string;
  readonly why: string;
  /**
   * The account that serves it when it is not the role's own: for a publish grant, a service
   * that account exports (the role's account imports it); for a subscribe grant, a stream it
   * exports. Undefined: the role's own account.
   */
  readonly from?: AccountName;
  /** A service answered by several messages (pull batches, every node of the fleet): `response_type: stream`. */
  readonly streamed?: boolean;
}

export interface Rules {
  readonly allow: readonly Grant[];
  /** Denied even when a later edit widens `allow` (a deny always wins in nats-server). */
  readonly deny: readonly Grant[];
}

export interface RolePermissions {
  readonly role: RoleName;
  /** The NATS account the user lives in. */
  readonly account: AccountName;
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
/** A subject served by JetStream, which lives in DATA. */
const js = (subject: string, why: string, streamed = false): Grant => ({ subject, why, from: "DATA", ...(streamed ? { streamed } : {}) });
/** A service of the gateway nodes (GATEWAY); every node answers, so the answers are a stream. */
const node = (subject: string, why: string): Grant => ({ subject, why, from: "GATEWAY", streamed: true });
/** Rules with each subject once (the first reason given wins). */
const rules = (allow: Grant[], deny: Grant[] = []): Rules => ({ allow: distinct(allow), deny: distinct(deny) });

function distinct(list: Grant[]): readonly Grant[] {
  const seen = new Set<string>();
  const out: Grant[] = [];
  for (const x of list) {
    if (seen.has(x.subject)) continue;
    seen.add(x.subject);
    out.push(Object.freeze(x));
  }
  return Object.freeze(out);
}

/**
 * JetStream API subjects that read one stream through ephemeral consumers. `named`: also the
 * client's named form `CREATE.<stream>.<name>[.<filter>]`, which creates durable consumers too
 * (admin only); without it only the legacy form, which refuses a durable name.
 */
function consumerRead(stream: string, why: string, pull: boolean, named: boolean): Grant[] {
  return [
    js(`$JS.API.CONSUMER.CREATE.${stream}`, `${why}: create an ephemeral consumer (legacy form: refuses a durable name)`),
    ...(named ? [js(`$JS.API.CONSUMER.CREATE.${stream}.>`, `${why}: create a consumer (named form)`)] : []),
    js(`$JS.API.CONSUMER.INFO.${stream}.*`, `${why}: pending count of its consumer`),
    js(`$JS.API.CONSUMER.DELETE.${stream}.*`, `${why}: delete its consumer when done`),
    ...(pull ? [js(`$JS.API.CONSUMER.MSG.NEXT.${stream}.*`, `${why}: fetch a batch`, true)] : []),
  ];
}

/** Everything needed to open, get from and watch one KV bucket, read-only. */
function bucketRead(bucket: string, why: string, named: boolean): Grant[] {
  const stream = `KV_${bucket}`;
  return [
    js(`$JS.API.STREAM.INFO.${stream}`, `${why}: open the bucket, its status`),
    ...consumerRead(stream, `${why}: watch`, false, named),
    js(`$JS.API.STREAM.MSG.GET.${stream}`, `${why}: get one key`),
    js(`$JS.API.DIRECT.GET.${stream}`, `${why}: get one key (allow_direct)`),
    js(`$JS.API.DIRECT.GET.${stream}.>`, `${why}: get one key by subject (allow_direct)`),
    js(`$JS.FC.${stream}.>`, `${why}: flow-control replies of the watch (ordered push consumer)`),
  ];
}

function streamAdmin(stream: string, what: string): Grant[] {
  return [
    js(`$JS.API.STREAM.INFO.${stream}`, `provision: check ${what}`),
    js(`$JS.API.STREAM.CREATE.${stream}`, `provision: create ${what}`),
    js(`$JS.API.STREAM.UPDATE.${stream}`, `provision: bring ${what} to the configured limits`),
  ];
}

/** The streams the gateway reads: the single one, or each partition's. */
function readStreams(n: BusNames): string[] {
  return n.partitions > 1 ? Array.from({ length: n.partitions }, (_, k) => partitionStream(k, n.partitions)) : [n.stream];
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
  const read = readStreams(n);
  const live = `${LIVE_PREFIX}.>`;
  const durable = `${DURABLE_PREFIX}.>`;
  const services = [`$SRV.*`, `$SRV.*.${SERVICE_NAME}`, `$SRV.*.${SERVICE_NAME}.*`];
  const endpoints = FLEET_ENDPOINTS.map((e) => `${FLEET_PREFIX}.${e}`);

  const gateway: RolePermissions = {
    role: "gateway",
    account: "GATEWAY",
    user: "gateway",
    passwordEnv: "NATS_GATEWAY_PASSWORD",
    who: "the gateway nodes (`sms-ws serve`)",
    inboxPrefix: "_INBOX_gateway",
    publish: rules(
      [
        js("$JS.API.INFO", "JetStream account check (every jetstreamManager)"),
        ...read.flatMap((r) => [
          js(`$JS.API.STREAM.INFO.${r}`, "stream epoch and last sequence (auth_ok, resume, readiness)"),
          ...consumerRead(r, "resume, history and gap repair", true, false),
          js(`$JS.API.DIRECT.GET.${r}`, "history: one stored event by sequence or time (read-only)"),
          js(`$JS.API.DIRECT.GET.${r}.>`, "history: last stored event of a subject (read-only)"),
        ]),
        ...buckets.flatMap((b) => bucketRead(b.name, b.what, false)),
        g(`${FLEET_COUNTS}.>`, "fleet: per-tenant counts shared between nodes (GATEWAY only)"),
        g("_R_.>", "answers to the fleet CLI: the mapped reply subjects of the requests GATEWAY's service exports bring in"),
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
        g("$JS.API.CONSUMER.CREATE.*.>", "no durable consumers: the named create form accepts a durable name"),
        ...endpoints.map((subject) => g(subject, "only operators send fleet requests (conns, kick, stats)")),
        g("$SRV.>", "only operators query the micro-service"),
        g("_INBOX_admin.>", "never answer on the admin's inbox directly"),
      ],
    ),
    subscribe: rules(
      [
        { ...g(live, "live events, on demand per scope (`sms.<t>.<a>.*`), `sms.>` for admin sockets"), from: "DATA" },
        { ...g("_INBOX_gateway.>", "its own replies, and consumer deliveries (pushed from DATA)"), from: "DATA" },
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
    account: "PRODUCER",
    user: "producer",
    passwordEnv: "NATS_PRODUCER_PASSWORD",
    who: "the SMS platform: publishes events on the durable path (`sms-ws publish`, `sms-ws-gateway/publisher`)",
    inboxPrefix: "_INBOX",
    publish: rules(
      [js(durable, "events on the durable path (JetStream publish into SMS_EVENTS; the ack comes back through the mapped reply)")],
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
    account: "DATA",
    user: "admin",
    passwordEnv: "NATS_ADMIN_PASSWORD",
    who: "operators: `sms-ws provision`, `keys`, `signers`, `tokens`, and the fleet CLI",
    inboxPrefix: "_INBOX_admin",
    publish: rules(
      [
        js("$JS.API.INFO", "JetStream account check"),
        ...streamAdmin(s, `stream ${s}`),
        ...(n.partitions > 1 ? read.flatMap((r) => streamAdmin(r, `partition stream ${r}`)) : []),
        ...buckets.flatMap((b) => [
          ...streamAdmin(`KV_${b.name}`, `bucket ${b.name}`),
          js(`$KV.${b.name}.>`, `write ${b.what} (create, update, revoke)`),
          ...bucketRead(b.name, `list ${b.what}`, true),
        ]),
        ...services.map((subject) => node(subject, `fleet CLI: discover and query the ${SERVICE_NAME} nodes`)),
        ...endpoints.map((subject) => node(subject, "fleet CLI: requests to the nodes (conns, kick, top)")),
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
    account: "GATEWAY",
    user: "direct-producer",
    passwordEnv: "NATS_DIRECT_PRODUCER_PASSWORD",
    who:
      "opt-in: a producer on the direct path (core NATS, no stream). Whoever holds it can publish " +
      "any live event with a forged Nats-Sequence header and events are never durable: add it only " +
      "when the direct path is wanted",
    inboxPrefix: "_INBOX",
    publish: rules(
      [g(`${LIVE_PREFIX}.*.*.status`, "status events, direct path (to the nodes in GATEWAY)"), g(`${LIVE_PREFIX}.*.*.inbound`, "inbound SMS, direct path")],
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

// ---- documentation -----------------------------------------------------------------------------

/** The Markdown tables of docs/security.md (a unit test keeps the document in step). */
export function renderPermissionTables(matrix: PermissionMatrix = PERMISSIONS): string {
  const out: string[] = [];
  for (const role of Object.keys(matrix) as RoleName[]) {
    const p = matrix[role];
    out.push(`#### \`${role}\`${p.optIn ? " (opt-in)" : ""}`, "");
    out.push(
      `${capitalize(p.who)}. NATS user \`${p.user}\` in account \`${p.account}\`, password \`$${p.passwordEnv}\`, inbox prefix \`${p.inboxPrefix}\`.`,
    );
    out.push("", "| | subject | served by | why |", "|---|---|---|---|");
    const rows: [string, readonly Grant[]][] = [
      ["publish", p.publish.allow],
      ["publish **denied**", p.publish.deny],
      ["subscribe", p.subscribe.allow],
      ["subscribe **denied**", p.subscribe.deny],
    ];
    for (const [label, grants] of rows) {
      for (const x of grants) out.push(`| ${label} | \`${x.subject}\` | ${servedBy(p, x)} | ${x.why} |`);
    }
    out.push("");
  }
  return out.join("\n");
}

/** Which account serves a grant, as the tables show it: an import names its exporter. */
function servedBy(p: RolePermissions, x: Grant): string {
  if (x.from === undefined || x.from === p.account) return "";
  return `${x.from} (${x.streamed ? "service import, streamed answers" : "import"})`;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
