/**
 * Configuration: every variable the node reads, parsed once at start-up into one frozen object.
 * A bad value throws a ConfigError naming the variable and the value it got.
 */
import { ConfigError } from "../errors.js";
import { parseCidr, type Cidr } from "../net/ip.js";

type Parser<T> = (raw: string, name: string) => T;

interface Setting<T> {
  readonly env: string;
  readonly default: string;
  readonly help: string;
  readonly parse: Parser<T>;
}

function setting<T>(env: string, def: string, help: string, parse: Parser<T>): Setting<T> {
  return { env, default: def, help, parse };
}

const integer =
  (min: number, max = Number.MAX_SAFE_INTEGER): Parser<number> =>
  (raw, name) => {
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new ConfigError(name, raw, `an integer between ${min} and ${max}`);
    }
    return value;
  };

const boolean: Parser<boolean> = (raw, name) => {
  const v = raw.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  throw new ConfigError(name, raw, "true or false");
};

const oneOf =
  <T extends string>(...values: T[]): Parser<T> =>
  (raw, name) => {
    const v = raw.trim() as T;
    if (!values.includes(v)) throw new ConfigError(name, raw, `one of ${values.join(", ")}`);
    return v;
  };

const text: Parser<string> = (raw) => raw.trim();

const list: Parser<readonly string[]> = (raw) =>
  Object.freeze(
    raw
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  );

const natsServers: Parser<readonly string[]> = (raw, name) => {
  const servers = list(raw, name);
  if (servers.length === 0) throw new ConfigError(name, raw, "one or more nats:// URLs, comma-separated");
  for (const s of servers) {
    if (!/^(nats|tls|ws|wss):\/\/[^\s]+$/.test(s) && !/^[\w.-]+:\d+$/.test(s)) {
      throw new ConfigError(name, raw, "nats://host:port URLs, comma-separated");
    }
  }
  return servers;
};

const origins: Parser<readonly string[]> = (raw, name) => {
  const values = list(raw, name);
  for (const o of values) {
    if (o !== "*" && !/^https?:\/\/[^/\s]+$/.test(o)) {
      throw new ConfigError(name, raw, "'*' or origins like https://app.example.com, comma-separated");
    }
  }
  return values;
};

const tenantIds: Parser<readonly string[]> = (raw, name) => {
  const values = list(raw, name);
  for (const t of values) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(t)) throw new ConfigError(name, raw, "tenant ids, comma-separated");
  }
  return values;
};

/**
 * Trusted proxy ranges: IPv4/IPv6 CIDRs or bare addresses. A /0 is refused: trusting every
 * address lets every client write its own address into the header.
 */
const cidrList: Parser<readonly Cidr[]> = (raw, name) =>
  Object.freeze(
    list(raw, name).map((entry) => {
      const cidr = parseCidr(entry);
      if (cidr === undefined) throw new ConfigError(name, raw, `IPv4/IPv6 addresses or CIDRs, comma-separated ("${entry}" is not one)`);
      if (cidr.prefix === 0) throw new ConfigError(name, raw, `specific proxy ranges ("${entry}" trusts every address)`);
      return Object.freeze(cidr);
    }),
  );

/** A raw 32-byte Ed25519 key (seed or public) in canonical unpadded base64url: 43 characters. */
function isEd25519Text(v: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(v) && Buffer.from(v, "base64url").toString("base64url") === v;
}

/** All settings with their defaults, in the order `--help` lists them. */
export const settings = {
  port: setting("PORT", "8080", "WebSocket and health port (/ws, /healthz, /readyz)", integer(0, 65535)),
  host: setting("HOST", "0.0.0.0", "Address the WebSocket port binds to", text),
  natsServers: setting("NATS_URL", "nats://127.0.0.1:4222", "NATS servers, comma-separated", natsServers),
  natsUser: setting("NATS_USER", "", "NATS user (optional)", text),
  natsPassword: setting("NATS_PASSWORD", "", "NATS password (optional)", text),
  natsToken: setting("NATS_TOKEN", "", "NATS token (optional)", text),
  metricsPort: setting("METRICS_PORT", "9100", "Prometheus port (/metrics); 0 picks a free port", integer(0, 65535)),
  metricsHost: setting(
    "METRICS_HOST",
    "127.0.0.1",
    "Address the metrics port binds to (0.0.0.0 to let a scraper on another host reach it)",
    text,
  ),
  metricsTenants: setting(
    "METRICS_TENANTS",
    "",
    "Tenants whose deliveries get their own metric label (allow-list); others are 'other'",
    tenantIds,
  ),
  authTimeoutMs: setting("AUTH_TIMEOUT_MS", "10000", "Time a new socket has to send its auth message", integer(100, 600_000)),
  pingIntervalMs: setting("PING_INTERVAL_MS", "30000", "Interval of the JSON {type:ping} heartbeat", integer(100, 3_600_000)),
  idleTimeoutS: setting(
    "IDLE_TIMEOUT_S",
    "120",
    "Protocol-level idle timeout in seconds (uWS sends automatic pings); 0 disables",
    integer(0, 960),
  ),
  maxBackpressureBytes: setting(
    "MAX_BACKPRESSURE_BYTES",
    "1048576",
    "Send buffer above which a socket is closed as a slow consumer",
    integer(4096),
  ),
  maxLifetimeS: setting(
    "MAX_LIFETIME_S",
    "0",
    "Close sockets (1001, clients resume) older than this many seconds; 0 disables",
    integer(0, 30 * 86400),
  ),
  maxUnauthenticated: setting(
    "MAX_UNAUTHENTICATED",
    "10000",
    "Sockets allowed to wait for authentication at once, in total (upgrades beyond: 503)",
    integer(1),
  ),
  maxUnauthenticatedPerIp: setting(
    "MAX_UNAUTHENTICATED_PER_IP",
    "1000",
    "Sockets one client address may have waiting for authentication (upgrades beyond: 429)",
    integer(1),
  ),
  authFailuresPerIpPerMin: setting(
    "AUTH_FAILURES_PER_IP_PER_MIN",
    "30",
    "Failed authentications per client address (IPv6: per /64) per minute answered at once; past it, failures are answered after a growing delay (never refused, valid keys never delayed); 0 disables",
    integer(0),
  ),
  authFailureMaxDelayMs: setting(
    "AUTH_FAILURE_MAX_DELAY_MS",
    "5000",
    "Longest delay before answering a failed authentication past AUTH_FAILURES_PER_IP_PER_MIN (250 ms, doubling); 0 disables",
    integer(0, 60_000),
  ),
  trustedProxyHeader: setting(
    "TRUSTED_PROXY_HEADER",
    "",
    "Header carrying the client address list (e.g. x-forwarded-for), read only from TRUSTED_PROXIES; needs TRUSTED_PROXIES",
    (raw, name) => {
      const v = raw.trim().toLowerCase();
      if (v !== "" && !/^[a-z0-9-]+$/.test(v)) throw new ConfigError(name, raw, "an HTTP header name");
      return v;
    },
  ),
  trustedProxies: setting(
    "TRUSTED_PROXIES",
    "",
    "Proxies (IPv4/IPv6 CIDRs or addresses, comma-separated) whose TRUSTED_PROXY_HEADER is believed; needs TRUSTED_PROXY_HEADER",
    cidrList,
  ),
  maxConnectionsPerTenant: setting(
    "MAX_CONNECTIONS_PER_TENANT",
    "0",
    "Authenticated sockets one tenant may hold on this node (beyond: auth_error, close 4429); 0 disables",
    integer(0),
  ),
  watchMaxMessageIds: setting(
    "WATCH_MAX_MESSAGE_IDS",
    "1000",
    "Message ids one socket may follow (filter.messageIds plus watch); ids beyond are not added (watch_ok says how many)",
    integer(1, 100_000),
  ),
  filterMaxTopics: setting(
    "FILTER_MAX_TOPICS",
    "4096",
    "uWS topics one socket's filter may compile to (messageIds x statuses x feeds); a filter needing more is refused (4400)",
    integer(1, 1_000_000),
  ),
  frameRatePerS: setting(
    "FRAME_RATE_PER_S",
    "1000",
    "Frame units one authenticated socket earns per second: each frame costs 1, a watch/unwatch 1 more per topic it touches (ids x statuses x feeds); over budget: auth_error, close 4429",
    integer(1, 1_000_000),
  ),
  frameBurst: setting(
    "FRAME_BURST",
    "1000",
    "Most frame units one socket holds at once (its burst); a frame costing more takes the whole burst",
    integer(1, 100_000_000),
  ),
  refreshRatePerMin: setting(
    "REFRESH_RATE_PER_MIN",
    "60",
    "Token refreshes one socket earns per minute (over budget: auth_error, close 4429)",
    integer(1, 60_000),
  ),
  refreshBurst: setting("REFRESH_BURST", "5", "Most token refreshes one socket may send at once", integer(1, 1000)),
  maxSseStreamsPerTenant: setting(
    "MAX_SSE_STREAMS_PER_TENANT",
    "25",
    "SSE streams one tenant may hold open on this node (beyond: 429 with Retry-After); 0 disables",
    integer(0),
  ),
  allowedRoles: setting(
    "ALLOWED_ROLES",
    "any",
    "Credential roles this node serves: app (an app pool: admin credentials get auth_error, close 4403, so no node of the pool subscribes sms.>), admin (the admin pool: app credentials refused the same way) or any",
    oneOf("any", "app", "admin"),
  ),
  allowedOrigins: setting(
    "ALLOWED_ORIGINS",
    "*",
    "Origins allowed to upgrade, comma-separated; '*' allows any (and requests without Origin)",
    origins,
  ),
  logLevel: setting(
    "LOG_LEVEL",
    "info",
    "pino level",
    oneOf("fatal", "error", "warn", "info", "debug", "trace", "silent"),
  ),
  drainDelayMs: setting(
    "DRAIN_DELAY_MS",
    "5000",
    "After SIGTERM: time /readyz reports 503 before sockets start closing",
    integer(0, 600_000),
  ),
  drainWindowMs: setting(
    "DRAIN_WINDOW_MS",
    "20000",
    "After the delay: window over which sockets are closed (1001), evenly spread",
    integer(0, 3_600_000),
  ),
  shutdownTimeoutMs: setting(
    "SHUTDOWN_TIMEOUT_MS",
    "40000",
    "Hard deadline from SIGTERM to exit (keep it under Kubernetes' grace period)",
    integer(1000, 3_600_000),
  ),
  streamEnabled: setting(
    "STREAM_ENABLED",
    "true",
    "Create/check the SMS_EVENTS stream (durable path); false for the direct path only",
    boolean,
  ),
  streamMaxAgeS: setting("STREAM_MAX_AGE_S", "86400", "SMS_EVENTS retention by age, seconds", integer(1)),
  streamMaxBytes: setting("STREAM_MAX_BYTES", "1073741824", "SMS_EVENTS retention by size, bytes", integer(1024)),
  streamReplicas: setting("STREAM_REPLICAS", "1", "SMS_EVENTS replicas (3 on a NATS cluster)", integer(1, 5)),
  streamStorage: setting("STREAM_STORAGE", "file", "SMS_EVENTS storage", oneOf("file", "memory")),
  streamPartitions: setting(
    "STREAM_PARTITIONS",
    "1",
    "Partitions of the durable path by tenant (streams SMS_EVENTS_0..K-1 and a NATS subject mapping; 1: the single stream SMS_EVENTS). See docs/partitioning.md",
    integer(1, 1024),
  ),
  keyBucket: setting("KEY_BUCKET", "sms_api_keys", "NATS KV bucket of API keys", text),
  consoleEnabled: setting(
    "CONSOLE_ENABLED",
    "false",
    "Serve the developer console, a browser app, at /console (static files, no credentials in it; `sms-ws dev` sets it)",
    boolean,
  ),
  autoProvision: setting(
    "AUTO_PROVISION",
    "false",
    "Create the stream and the buckets at start (needs NATS admin rights; `sms-ws dev` sets it); otherwise run `sms-ws provision` once",
    boolean,
  ),
  resumeMaxEvents: setting(
    "RESUME_MAX_EVENTS",
    "10000",
    "Most events one resume may replay before answering resume_failed/limit",
    integer(0),
  ),
  resumeConcurrency: setting("RESUME_CONCURRENCY", "8", "Replays running at once on one node", integer(1, 1000)),
  resumeConcurrencyPerKey: setting(
    "RESUME_CONCURRENCY_PER_KEY",
    "2",
    "Replays running at once on one node for one credential (API key or token signer)",
    integer(1, 1000),
  ),
  resumeConcurrencyPerTenant: setting(
    "RESUME_CONCURRENCY_PER_TENANT",
    "4",
    "Replays running at once on one node for one tenant",
    integer(1, 1000),
  ),
  resumeQueueMax: setting(
    "RESUME_QUEUE_MAX",
    "5000",
    "Replays waiting for a slot on one node; beyond, resume_failed (unavailable) at once",
    integer(0, 1_000_000),
  ),
  resumeQueueWaitMs: setting(
    "RESUME_QUEUE_WAIT_MS",
    "30000",
    "Longest wait for a replay slot before resume_failed (unavailable)",
    integer(0, 600_000),
  ),
  resumeStallMs: setting(
    "RESUME_STALL_MS",
    "10000",
    "A replay that cannot send for this long (the client does not read) closes the socket, 4429",
    integer(100, 600_000),
  ),
  resumeHeldMax: setting(
    "RESUME_HELD_MAX",
    "10000",
    "Live events held for one replaying socket; beyond, the socket is closed (4429) and resumes later",
    integer(1, 1_000_000),
  ),
  tokenMaxTtlS: setting(
    "TOKEN_MAX_TTL_S",
    "86400",
    "Longest connection-token lifetime (exp - iat) accepted, seconds; also the revoked-token bucket's TTL",
    integer(60, 30 * 86400),
  ),
  signerBucket: setting("SIGNER_BUCKET", "sms_token_signers", "NATS KV bucket of connection-token signers", (raw, name) => {
    const v = raw.trim();
    if (!/^[-\w]+$/.test(v)) throw new ConfigError(name, raw, "a KV bucket name (letters, digits, - and _)");
    return v;
  }),
  revokedTokensBucket: setting("REVOKED_TOKENS_BUCKET", "sms_revoked_tokens", "NATS KV bucket of revoked token ids (jti)", (raw, name) => {
    const v = raw.trim();
    if (!/^[-\w]+$/.test(v)) throw new ConfigError(name, raw, "a KV bucket name (letters, digits, - and _)");
    return v;
  }),
  historyRatePerMin: setting(
    "HISTORY_RATE_PER_MIN",
    "60",
    "GET /v1/events requests per credential (API key or token signer) per minute on one node, bursts up to the same number; beyond: 429 with Retry-After",
    integer(1, 1_000_000),
  ),
  historyScanMax: setting(
    "HISTORY_SCAN_MAX",
    "10000",
    "Stored events of the scope one history page reads at most while applying a filter (a page may then hold fewer than limit events; follow next)",
    integer(1000, 10_000_000),
  ),
  historyConcurrency: setting(
    "HISTORY_CONCURRENCY",
    "16",
    "History reads running at once on one node (a quarter per credential, half per tenant); others wait up to 10 s, then 503",
    integer(1, 1000),
  ),
  // ---- fleet key (docs/operations-fleet.md, "Who can send what"); src/fleet/fleet-key.ts imports them ----
  fleetSigningKey: setting(
    "FLEET_SIGNING_KEY",
    "",
    "Ed25519 seed (base64url, from `sms-ws fleet-key`) the node signs its fleet answers and quota counts with; a secret apart from NATS_PASSWORD. Empty: unsigned (dev only: a warning, smsws_fleet_signed 0)",
    (raw, name) => {
      const v = raw.trim();
      // The value is a secret: the error names its length, never its text.
      if (v !== "" && !isEd25519Text(v)) throw new ConfigError(name, `<${raw.length} characters, not shown>`, "the base64url (unpadded) 32-byte Ed25519 seed that `sms-ws fleet-key` prints");
      return v;
    },
  ),
  fleetPublicKey: setting(
    "FLEET_PUBLIC_KEY",
    "",
    "Fleet public key(s), base64url, comma-separated: the fleet CLI accepts answers signed by them; nodes also accept counts signed by them (the old key during a rotation)",
    (raw, name) => {
      const keys = list(raw, name);
      if (!keys.every(isEd25519Text)) throw new ConfigError(name, raw, "base64url (unpadded) 32-byte Ed25519 public keys, comma-separated");
      return keys;
    },
  ),
  // ---- end fleet key ----
} as const;

type Settings = typeof settings;
export type Config = { readonly [K in keyof Settings]: Settings[K] extends Setting<infer T> ? T : never };

/** Parse the environment into a frozen Config; throws ConfigError on the first bad value. */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): Config {
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(settings) as [string, Setting<unknown>][]) {
    const raw = env[s.env];
    out[key] = s.parse(raw === undefined || raw === "" ? s.default : raw, s.env);
  }
  const config = out as Config;
  if (config.drainDelayMs + config.drainWindowMs >= config.shutdownTimeoutMs) {
    throw new ConfigError(
      "SHUTDOWN_TIMEOUT_MS",
      String(config.shutdownTimeoutMs),
      `more than DRAIN_DELAY_MS + DRAIN_WINDOW_MS (${config.drainDelayMs + config.drainWindowMs})`,
    );
  }
  // A header without trusted proxies would be either ignored (every client then shares the
  // proxy's address and its limits) or believed from anyone (clients choose their address):
  // both are silent surprises, so the pair is required together.
  if (config.trustedProxyHeader !== "" && config.trustedProxies.length === 0) {
    throw new ConfigError("TRUSTED_PROXIES", "", `the proxies' addresses or CIDRs: TRUSTED_PROXY_HEADER=${config.trustedProxyHeader} is read only from them`);
  }
  if (config.trustedProxyHeader === "" && config.trustedProxies.length > 0) {
    throw new ConfigError("TRUSTED_PROXY_HEADER", "", "the header those TRUSTED_PROXIES set (e.g. x-forwarded-for)");
  }
  return Object.freeze(config);
}

/** The environment variable names the node accepts (the k8s consistency test reads this). */
export const acceptedEnv: readonly string[] = Object.values(settings).map((s) => s.env);

export function helpText(): string {
  const width = Math.max(...acceptedEnv.map((e) => e.length));
  const lines = Object.values(settings).map(
    (s) => `  ${s.env.padEnd(width)}  ${s.help}${s.default === "" ? "" : ` (default: ${s.default})`}`,
  );
  return `Environment variables:\n${lines.join("\n")}\n`;
}
