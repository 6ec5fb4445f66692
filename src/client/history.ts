/**
 * History over HTTP for the SDK (README.md, "History over HTTP"): one page of `GET /v1/events`
 * with the client's credential, and the backfill that pages through what the stream still holds
 * after a `resume_failed` for retention. Standalone like the rest of src/client: fetch is the
 * platform's (or injected).
 */
import { SmsWsError } from "./errors.js";
import type { SmsEvent, StreamPosition } from "./types.js";

export interface HistoryFilter {
  types?: readonly ("sms_status" | "sms_inbound")[];
  statuses?: readonly string[];
  messageIds?: readonly string[];
}

/** Where a page starts: after a position (exclusive), at a time, or (neither) the newest events. */
export interface HistoryQuery {
  after?: StreamPosition | string;
  since?: Date | string;
  /** 1 to 1000; the server's default is 100. */
  limit?: number;
  filter?: HistoryFilter;
}

export interface HistoryPage {
  epoch: string;
  /** Oldest first, each with its `seq`. */
  events: SmsEvent[];
  /** The `after` of the following page; null when nothing more exists now. */
  next: string | null;
}

export type FetchLike = (url: string, init: { headers: Record<string, string> }) => Promise<{ status: number; text(): Promise<string> }>;

/**
 * `ws(s)://host/ws` -> `http(s)://host/v1/events`; "" when the URL does not parse (the socket
 * reports that; a history request then fails with HISTORY_FAILED).
 */
export function historyUrlOf(wsUrl: string): string {
  let u: URL;
  try {
    u = new URL(wsUrl);
  } catch {
    return "";
  }
  u.protocol = u.protocol === "wss:" ? "https:" : u.protocol === "ws:" ? "http:" : u.protocol;
  u.pathname = "/v1/events";
  u.search = "";
  u.hash = "";
  return u.toString();
}

export function historyQueryString(query: HistoryQuery): string {
  const p = new URLSearchParams();
  if (query.after !== undefined && query.since !== undefined) throw new TypeError("history: give after or since, not both");
  if (query.after !== undefined) p.set("after", typeof query.after === "string" ? query.after : `${query.after.epoch}:${query.after.seq}`);
  if (query.since !== undefined) p.set("since", typeof query.since === "string" ? query.since : query.since.toISOString());
  if (query.limit !== undefined) p.set("limit", String(query.limit));
  const f = query.filter;
  if (f?.types !== undefined) p.set("types", f.types.join(","));
  if (f?.statuses !== undefined) p.set("statuses", f.statuses.join(","));
  if (f?.messageIds !== undefined) p.set("messageIds", f.messageIds.join(","));
  return p.toString();
}

/** One page. Throws SmsWsError HISTORY_FAILED with the server's status and reason. */
export async function fetchHistoryPage(fetchImpl: FetchLike, url: string, credential: string, query: HistoryQuery): Promise<HistoryPage> {
  if (url === "") throw new SmsWsError("HISTORY_FAILED", "history: no endpoint (set options.historyUrl)");
  const qs = historyQueryString(query);
  let status: number;
  let text: string;
  try {
    const res = await fetchImpl(qs === "" ? url : `${url}?${qs}`, { headers: { authorization: `Bearer ${credential}` } });
    status = res.status;
    text = await res.text();
  } catch (cause) {
    throw new SmsWsError("HISTORY_FAILED", `history request failed: ${String(cause)}`, { cause });
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (status !== 200) {
    const reason = typeof body === "object" && body !== null && typeof (body as { error?: unknown }).error === "string" ? (body as { error: string }).error : text.slice(0, 200);
    throw new SmsWsError("HISTORY_FAILED", `history: HTTP ${status}: ${reason}`, { httpStatus: status });
  }
  const page = body as HistoryPage;
  if (typeof page?.epoch !== "string" || !Array.isArray(page.events)) throw new SmsWsError("HISTORY_FAILED", "history: malformed page");
  return page;
}

/** What a backfill after resume_failed (retention) recovered, and exactly what it could not. */
export interface BackfillResult {
  /** The position the client had asked to resume from. */
  from: StreamPosition;
  /** Events the backfill delivered (duplicates of live ones not counted). */
  recovered: number;
  /**
   * Lost for good: the scope's events with `from.seq < seq < lostBefore.seq` (deleted by the
   * stream's retention before they could be read back). Undefined when the stream held none of
   * the scope's events: everything between `from` and the first live event is lost.
   */
  lostBefore: StreamPosition | undefined;
  /** Set when the backfill stopped early (an HTTP failure): events after the last recovered one may be missing too. */
  error?: SmsWsError;
}

/** Bound on the pages one backfill reads (at 1000 events each). */
export const BACKFILL_MAX_PAGES = 1000;

/**
 * Page through everything the stream still holds for the scope (oldest first, from the start of
 * the stream: retention removed everything up to `from` already), handing each event to
 * `deliver`. Stops when `next` is null, after BACKFILL_MAX_PAGES, or at the first failure.
 */
export async function backfill(
  page: (query: HistoryQuery) => Promise<HistoryPage>,
  from: StreamPosition,
  deliver: (event: SmsEvent) => boolean,
): Promise<BackfillResult> {
  const result: BackfillResult = { from, recovered: 0, lostBefore: undefined };
  let query: HistoryQuery = { since: "1970-01-01T00:00:00Z", limit: 1000 };
  try {
    for (let n = 0; n < BACKFILL_MAX_PAGES; n++) {
      const p = await page(query);
      if (p.epoch !== from.epoch) {
        throw new SmsWsError("HISTORY_FAILED", "history: the stream was re-created during the backfill");
      }
      for (const event of p.events) {
        if (result.lostBefore === undefined && event.seq !== undefined) result.lostBefore = { epoch: p.epoch, seq: event.seq };
        if (deliver(event)) result.recovered++;
      }
      if (p.next === null) return result;
      query = { after: p.next, limit: 1000 };
    }
  } catch (err) {
    result.error = err instanceof SmsWsError ? err : new SmsWsError("HISTORY_FAILED", String(err), { cause: err });
  }
  return result;
}
