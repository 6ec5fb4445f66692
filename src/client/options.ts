/** Client options, their defaults (all in one place) and their validation. */
import { MAX_PARTITIONS } from "./frames.js";
import { isTenantId } from "./routing.js";
import type { WebSocketConstructor } from "./socket.js";
import { historyUrlOf, type FetchLike } from "./history.js";
import type { StreamPosition } from "./types.js";
import type { ClientFilter } from "./watch-set.js";

/** Timer functions, injectable for tests; default to the global ones. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface ReconnectOptions {
  /** Base of the exponential backoff, in ms. Default 1000. */
  initialDelayMs?: number;
  /** Cap of the backoff, in ms. Default 30000. */
  maxDelayMs?: number;
}

/** Returns a connection token minted by your backend (e.g. `fetch("/api/sms-ws-token")`). */
export type GetToken = () => Promise<string> | string;

export interface ClientOptions {
  /** WebSocket endpoint, e.g. `wss://sms.example.com/ws`. */
  url: string;
  /**
   * A long-lived API key: for servers only, never in a web page. Exactly one of `apiKey` and
   * `getToken` is required.
   */
  apiKey?: string;
  /**
   * Fetches a short-lived connection token: called before every connection and again before
   * the token expires (the client then refreshes the socket in place, without reconnecting).
   */
  getToken?: GetToken;
  /** WebSocket implementation; default `globalThis.WebSocket`. Required on Node 20: pass `ws`'s. */
  WebSocket?: WebSocketConstructor;
  /** Backoff settings, or `false` to never reconnect (the first drop closes the client). */
  reconnect?: ReconnectOptions | false;
  /**
   * The server's ping interval. With no frame at all for 2 intervals the client drops the
   * socket and reconnects. Default 30000; 0 disables the watchdog.
   */
  pingIntervalMs?: number;
  /** Resume from the last position on reconnect. Default true. */
  resume?: boolean;
  /**
   * Where to resume the first connection: a position saved from `client.position`, or for an
   * admin client on a partitioned stream the list saved from `client.positions` (all K, in order).
   */
  resumeFrom?: StreamPosition | readonly StreamPosition[];
  /**
   * On `resumeFailed` with reason `retention`, page through what the stream still holds over
   * HTTP (`GET /v1/events`), deliver it as events, and report what could not be recovered
   * (`backfilled`). Default false.
   */
  backfill?: boolean;
  /** The history endpoint; default derived from `url` (`wss://host/ws` -> `https://host/v1/events`). */
  historyUrl?: string;
  /** fetch implementation for history; default `globalThis.fetch`. */
  fetch?: FetchLike;
  /** How many recent event ids to remember for de-duplication. Default 10000. */
  dedupeWindow?: number;
  /**
   * Server-side filter, sent in every auth message (README "Filters"). With `messageIds`
   * (`[]` for none yet) the client may watch() and unwatch() messages.
   */
  filter?: ClientFilter;
  /**
   * Routing hint: the tenant id added to the URL as `?tenant=<id>` so the load balancer keeps a
   * tenant's sockets on few nodes (docs/scaling.md). Token clients derive it from each token's
   * `tenantId` claim when this is absent; API-key clients send none without it. The credential
   * still decides what the socket receives: a wrong hint only costs efficiency.
   */
  tenantHint?: string;
  /**
   * For tenants your operator configured as big: how many hash slots the tenant spreads over
   * (`?tenant=<id>:<slot>`, slot drawn at each connection). Default 1 (no slot).
   */
  tenantSlots?: number;
  /** Returns [0, 1); default Math.random. For tests of the backoff. */
  random?: () => number;
  timers?: Timers;
  /** Clock in ms since the epoch; default Date.now. */
  now?: () => number;
}

/** How the client authenticates: a fixed API key, or tokens fetched on demand. */
export type Credential = { readonly kind: "apiKey"; readonly apiKey: string } | { readonly kind: "token"; readonly getToken: GetToken };

export interface ResolvedOptions {
  readonly url: string;
  readonly credential: Credential;
  readonly WebSocket: WebSocketConstructor;
  readonly reconnect: { readonly initialDelayMs: number; readonly maxDelayMs: number } | false;
  readonly pingIntervalMs: number;
  readonly resume: boolean;
  /** One position, or one per partition (in partition order). */
  readonly resumeFrom: readonly StreamPosition[] | undefined;
  readonly dedupeWindow: number;
  readonly filter: ClientFilter | undefined;
  readonly backfill: boolean;
  readonly historyUrl: string;
  readonly fetch: FetchLike | undefined;
  readonly tenantHint: string | undefined;
  readonly tenantSlots: number;
  readonly random: () => number;
  readonly timers: Timers;
  readonly now: () => number;
}

export const DEFAULTS = Object.freeze({
  initialDelayMs: 1000,
  maxDelayMs: 30_000,
  pingIntervalMs: 30_000,
  resume: true,
  dedupeWindow: 10_000,
  /** A getToken call that has not answered after this long counts as failed. */
  tokenTimeoutMs: 30_000,
  /** Backoff of getToken retries while refreshing (full jitter, capped by the token's expiry). */
  tokenRetryInitialDelayMs: 1000,
  tokenRetryMaxDelayMs: 30_000,
});

const globalTimers: Timers = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
};

function invalid(name: string, value: unknown, expected: string): TypeError {
  return new TypeError(`SmsWsClient option ${name}=${JSON.stringify(value)} is invalid: expected ${expected}`);
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) throw invalid(name, value, "a finite number >= 0");
  return value;
}

/** Applies defaults and validates; throws a TypeError naming the option on a bad value. */
export function resolveOptions(options: ClientOptions): ResolvedOptions {
  if (typeof options.url !== "string" || options.url.length === 0) throw invalid("url", options.url, "a ws:// or wss:// URL");
  const credential = resolveCredential(options);
  const WebSocketImpl =
    options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (typeof WebSocketImpl !== "function") {
    throw new TypeError(
      "SmsWsClient: no WebSocket implementation. On Node 20 pass one: createClient({ WebSocket: (await import('ws')).WebSocket, ... })",
    );
  }
  let reconnect: ResolvedOptions["reconnect"] = false;
  if (options.reconnect !== false) {
    const initialDelayMs = nonNegative("reconnect.initialDelayMs", options.reconnect?.initialDelayMs, DEFAULTS.initialDelayMs);
    const maxDelayMs = nonNegative("reconnect.maxDelayMs", options.reconnect?.maxDelayMs, DEFAULTS.maxDelayMs);
    if (maxDelayMs < initialDelayMs) throw invalid("reconnect.maxDelayMs", maxDelayMs, `>= initialDelayMs (${initialDelayMs})`);
    reconnect = Object.freeze({ initialDelayMs, maxDelayMs });
  }
  const dedupeWindow = options.dedupeWindow ?? DEFAULTS.dedupeWindow;
  if (!Number.isInteger(dedupeWindow) || dedupeWindow < 1) throw invalid("dedupeWindow", dedupeWindow, "an integer >= 1");
  const given = options.resumeFrom;
  const from = given === undefined || Array.isArray(given) ? (given as readonly StreamPosition[] | undefined) : [given as StreamPosition];
  if (from !== undefined && (from.length === 0 || from.length > MAX_PARTITIONS || !from.every(isPosition))) {
    throw invalid("resumeFrom", given, "{ epoch: non-empty string, seq: integer >= 0 }, or a list of 1 to 1024 of them");
  }
  if (options.tenantHint !== undefined && !isTenantId(options.tenantHint)) {
    throw invalid("tenantHint", options.tenantHint, "a tenant id (1-64 of A-Z a-z 0-9 _ -)");
  }
  const tenantSlots = options.tenantSlots ?? 1;
  if (!Number.isInteger(tenantSlots) || tenantSlots < 1 || tenantSlots > 1024) throw invalid("tenantSlots", tenantSlots, "an integer from 1 to 1024");
  return Object.freeze({
    url: options.url,
    credential,
    WebSocket: WebSocketImpl,
    reconnect,
    pingIntervalMs: nonNegative("pingIntervalMs", options.pingIntervalMs, DEFAULTS.pingIntervalMs),
    resume: options.resume ?? DEFAULTS.resume,
    resumeFrom: from === undefined ? undefined : Object.freeze(from.map((p) => Object.freeze({ epoch: p.epoch, seq: p.seq }))),
    dedupeWindow,
    filter: resolveFilter(options.filter),
    backfill: options.backfill ?? false,
    historyUrl: options.historyUrl ?? historyUrlOf(options.url),
    fetch: options.fetch ?? (globalThis as { fetch?: FetchLike }).fetch,
    tenantHint: options.tenantHint,
    tenantSlots,
    random: options.random ?? Math.random,
    timers: options.timers ?? globalTimers,
    now: options.now ?? Date.now,
  });
}

function resolveCredential(options: ClientOptions): Credential {
  const { apiKey, getToken } = options;
  if ((apiKey === undefined) === (getToken === undefined)) {
    throw new TypeError("SmsWsClient: give exactly one of apiKey (servers) and getToken (browsers)");
  }
  if (getToken !== undefined) {
    if (typeof getToken !== "function") throw new TypeError("SmsWsClient option getToken is invalid: expected a function");
    return Object.freeze({ kind: "token", getToken });
  }
  if (typeof apiKey !== "string" || apiKey.length === 0) {
    // Never echo the key itself.
    throw new TypeError("SmsWsClient option apiKey is invalid: expected a non-empty string");
  }
  return Object.freeze({ kind: "apiKey", apiKey });
}

function resolveFilter(filter: ClientFilter | undefined): ClientFilter | undefined {
  if (filter === undefined) return undefined;
  if (typeof filter !== "object" || filter === null) throw invalid("filter", filter, "{ types?, statuses?, messageIds? }");
  for (const field of ["types", "statuses", "messageIds"] as const) {
    const list = filter[field];
    if (list !== undefined && (!Array.isArray(list) || !list.every((x) => typeof x === "string" && x.length > 0))) {
      throw invalid(`filter.${field}`, list, "an array of non-empty strings");
    }
  }
  return Object.freeze({ ...filter });
}

function isPosition(p: StreamPosition): boolean {
  return typeof p === "object" && p !== null && typeof p.epoch === "string" && p.epoch.length > 0 && Number.isSafeInteger(p.seq) && p.seq >= 0;
}
