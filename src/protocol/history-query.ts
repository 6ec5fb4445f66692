/**
 * What an HTTP request for events means (README.md, "History over HTTP", "Server-Sent Events"): the query string of `GET /v1/events` and
 * `GET /v1/events/stream`, the `<epoch>:<seq>` cursor (also the SSE `id` and `Last-Event-ID`), an
 * RFC 3339 time, and the `Authorization: Bearer` header. Plain functions: no uWS, no NATS.
 *
 * A problem is a HistoryQueryError naming the parameter, which the route answers with 400.
 */
import { GatewayError } from "../errors.js";
import { parseFilter, type EventFilter } from "../scope/filter.js";

export const HISTORY_DEFAULT_LIMIT = 100;
export const HISTORY_MAX_LIMIT = 1000;
/** uWS refuses requests over 4 KiB anyway; a query this long is refused by name before parsing. */
export const MAX_QUERY_LENGTH = 4096;
const MAX_EPOCH_LENGTH = 128;

/** A bad request parameter: `parameter` is what the 400 names. */
export class HistoryQueryError extends GatewayError {
  readonly parameter: string;
  constructor(parameter: string, message: string) {
    super("HISTORY_QUERY", message);
    this.parameter = parameter;
  }
}

/** A position in one incarnation of the stream: what `after`, `next`, `id` and `Last-Event-ID` carry. */
export interface Cursor {
  readonly epoch: string;
  readonly seq: number;
}

export type HistoryPosition = { type: "after"; cursor: Cursor } | { type: "since"; timeMs: number } | { type: "newest" };

export interface HistoryQuery {
  readonly position: HistoryPosition;
  /** `partition=<k>`: which partition an admin credential reads (STREAM_PARTITIONS > 1). */
  readonly partition?: number;
  readonly limit: number;
  /** What the client asked for (the route intersects it with a token's ceiling). */
  readonly filter: EventFilter;
}

export interface StreamQuery {
  readonly filter: EventFilter;
  /** `?token=`: a connection token in the URL (EventSource cannot set headers). */
  readonly token: string | undefined;
}

export function formatCursor(cursor: Cursor): string {
  return `${cursor.epoch}:${cursor.seq}`;
}

/**
 * `<epoch>:<seq>`. The epoch is an ISO time and holds colons itself: the sequence is what
 * follows the last one.
 */
export function parseCursor(value: string, parameter: string): Cursor {
  const at = value.lastIndexOf(":");
  const epoch = at < 0 ? "" : value.slice(0, at);
  const seqText = at < 0 ? "" : value.slice(at + 1);
  if (epoch.length === 0 || epoch.length > MAX_EPOCH_LENGTH || !/^\d{1,16}$/.test(seqText)) {
    throw new HistoryQueryError(parameter, `${parameter} must be "<epoch>:<seq>" as given by "next" or an event's id`);
  }
  const seq = Number(seqText);
  if (!Number.isSafeInteger(seq)) throw new HistoryQueryError(parameter, `${parameter}: seq is too large`);
  return { epoch, seq };
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 date-time (with a zone), as ms since the epoch. */
export function parseRfc3339(value: string, parameter: string): number {
  const m = RFC3339.exec(value);
  const ms = m === null ? NaN : Date.parse(value.replace(" ", "T"));
  if (m === null || Number.isNaN(ms)) {
    throw new HistoryQueryError(parameter, `${parameter} must be an RFC 3339 time such as 2025-01-31T12:00:00Z`);
  }
  // Date.parse rolls 2025-02-30 over to March: refuse dates that do not exist.
  const [, y, mo, d] = m as unknown as [string, string, string, string];
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (day.getUTCMonth() !== Number(mo) - 1 || day.getUTCDate() !== Number(d)) {
    throw new HistoryQueryError(parameter, `${parameter} is not a real date`);
  }
  return ms;
}

/**
 * The query string as name -> value, each name at most once (a doubled parameter is refused:
 * which one wins would be a guess), only the names `allowed` (a misspelt one would silently not
 * narrow).
 */
export function queryParameters(query: string, allowed: readonly string[]): Map<string, string> {
  if (query.length > MAX_QUERY_LENGTH) throw new HistoryQueryError("query", `query string is longer than ${MAX_QUERY_LENGTH} characters`);
  const out = new Map<string, string>();
  if (query === "") return out;
  for (const part of query.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const rawName = eq < 0 ? part : part.slice(0, eq);
    const rawValue = eq < 0 ? "" : part.slice(eq + 1);
    let name: string;
    let value: string;
    try {
      name = decodeURIComponent(rawName.replaceAll("+", " "));
      value = decodeURIComponent(rawValue.replaceAll("+", " "));
    } catch {
      throw new HistoryQueryError(safeName(rawName), `${safeName(rawName)} is not correctly percent-encoded`);
    }
    if (!allowed.includes(name)) {
      throw new HistoryQueryError(safeName(name), `unknown parameter "${safeName(name)}" (known: ${allowed.join(", ")})`);
    }
    if (out.has(name)) throw new HistoryQueryError(name, `${name} is given more than once`);
    out.set(name, value);
  }
  return out;
}

/** A client-supplied name, cut and stripped of anything but plain characters, for messages. */
function safeName(name: string): string {
  return name.slice(0, 32).replace(/[^\w.-]/g, "?");
}

const FILTER_PARAMETERS = ["types", "statuses", "messageIds"] as const;

/** `types`, `statuses`, `messageIds` (comma-separated) -> the filter model's own parser. */
export function filterOfParameters(params: ReadonlyMap<string, string>): EventFilter {
  const raw: Record<string, string[]> = {};
  for (const name of FILTER_PARAMETERS) {
    const value = params.get(name);
    if (value === undefined) continue;
    raw[name] = value === "" ? [] : value.split(",");
  }
  try {
    return parseFilter(Object.keys(raw).length === 0 ? undefined : raw);
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    const field = FILTER_PARAMETERS.find((f) => err.message.startsWith(`filter.${f}`)) ?? "filter";
    // parseFilter speaks of `filter.types`; over HTTP the parameter is `types`.
    throw new HistoryQueryError(field, err.message.replace(/^filter\./, ""));
  }
}

/** `GET /v1/events`: position, limit and filter. */
export function parseHistoryQuery(query: string): HistoryQuery {
  const params = queryParameters(query, ["after", "since", "limit", "partition", ...FILTER_PARAMETERS]);
  const after = params.get("after");
  const since = params.get("since");
  if (after !== undefined && since !== undefined) throw new HistoryQueryError("after", "give after or since, not both");
  const position: HistoryPosition =
    after !== undefined
      ? { type: "after", cursor: parseCursor(after, "after") }
      : since !== undefined
        ? { type: "since", timeMs: parseRfc3339(since, "since") }
        : { type: "newest" };
  const limitText = params.get("limit");
  let limit = HISTORY_DEFAULT_LIMIT;
  if (limitText !== undefined) {
    limit = /^\d{1,7}$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit >= 1 && limit <= HISTORY_MAX_LIMIT)) {
      throw new HistoryQueryError("limit", `limit must be an integer from 1 to ${HISTORY_MAX_LIMIT}`);
    }
  }
  const partitionText = params.get("partition");
  if (partitionText !== undefined && !/^\d{1,4}$/.test(partitionText)) throw new HistoryQueryError("partition", "partition must be a partition number (0 to STREAM_PARTITIONS-1)");
  return { position, limit, filter: filterOfParameters(params), ...(partitionText === undefined ? {} : { partition: Number(partitionText) }) };
}

/** The partition a partitioned epoch (`p<k>/<K>@<time>`) names, when it names one of K. */
export function partitionOfEpoch(epoch: string, count: number): number | undefined {
  const m = /^p(\d{1,4})\/(\d{1,4})@/.exec(epoch);
  if (m === null || Number(m[2]) !== count || Number(m[1]) >= count) return undefined;
  return Number(m[1]);
}

/** `GET /v1/events/stream`: filter and an optional `token`. */
export function parseStreamQuery(query: string): StreamQuery {
  const params = queryParameters(query, ["token", ...FILTER_PARAMETERS]);
  const token = params.get("token");
  if (token !== undefined && token.length === 0) throw new HistoryQueryError("token", "token is empty");
  return { filter: filterOfParameters(params), token };
}

/**
 * `Authorization: Bearer <credential>`: the credential, or undefined when the header is absent.
 * A header that is present but malformed is refused by name.
 */
export function bearerCredential(header: string): string | undefined {
  if (header === "") return undefined;
  const m = /^Bearer +(\S+) *$/i.exec(header);
  if (m === null) throw new HistoryQueryError("Authorization", 'Authorization must be "Bearer <API key or token>"');
  return m[1] as string;
}
