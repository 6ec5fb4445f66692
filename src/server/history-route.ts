/**
 * `GET /v1/events` (README.md, "History over HTTP"): a page of the stored events of the caller's
 * scope and filter, oldest first, with the cursor of the next page.
 *
 *   400 a bad parameter (named)      401 a refused credential      403 an Origin not allowed
 *   409 {"error":"epoch"}            410 {"error":"retention"}     429 rate limit (Retry-After)
 *   503 starting, no stream, or too many reads at once (Retry-After)
 *
 * With STREAM_PARTITIONS=K > 1 (docs/partitioning.md) an app credential reads its tenant's
 * partition (cursors carry that partition's epoch); an admin credential reads one partition per
 * request: `partition=<k>`, or an `after` cursor whose epoch names it; neither is a 400 naming
 * `partition`.
 *
 * Reads are bounded three ways: per credential (HISTORY_RATE_PER_MIN), at once on the node
 * (HISTORY_CONCURRENCY, through the same slot bookkeeping as replays), and per page (`limit`
 * events decoded at most, HISTORY_SCAN_MAX stored events read at most).
 */
import type { Logger } from "pino";
import type { HttpRequest, HttpResponse } from "uWebSockets.js";
import type { DecodedEvent } from "../bus/event-decoder.js";
import { epochOf } from "../bus/stream.js";
import type { Config } from "../config/config.js";
import type { Metrics } from "../metrics/metrics.js";
import { credentialOwner } from "../protocol/credential.js";
import { formatCursor, HistoryQueryError, parseHistoryQuery, partitionOfEpoch, type HistoryQuery } from "../protocol/history-query.js";
import type { PartitionedReaders } from "../resume/replayer.js";
import { ReplaySlots } from "../resume/replay-slots.js";
import type { StreamReader } from "../resume/stream-reader.js";
import { filterAllows, intersectFilters } from "../scope/filter.js";
import { feedsOf } from "../scope/scope.js";
import { corsFor } from "./cors.js";
import { errorBody, HttpExchange } from "./http-exchange.js";
import type { HttpAuth, HttpAuthResult } from "./http-auth.js";
import { RateLimit } from "./rate-limit.js";

type HistoryConfig = Pick<Config, "allowedOrigins" | "trustedProxyHeader" | "trustedProxies" | "historyRatePerMin" | "historyScanMax" | "historyConcurrency">;

const SLOT_WAIT_MS = 10_000;
const SLOT_QUEUE_MAX = 256;

export class HistoryRoute {
  readonly #rate: RateLimit;
  readonly #slots: ReplaySlots;

  constructor(
    private readonly config: HistoryConfig,
    private readonly auth: HttpAuth,
    /** Absent on the direct path: no stream, no history. */
    private readonly reader: Pick<StreamReader, "info" | "page" | "newest"> | undefined,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    now: () => number = Date.now,
    /** STREAM_PARTITIONS > 1: one reader per partition. */
    private readonly partitioned?: PartitionedReaders<Pick<StreamReader, "info" | "page" | "newest">>,
  ) {
    this.#rate = new RateLimit(config.historyRatePerMin, now);
    const total = config.historyConcurrency;
    this.#slots = new ReplaySlots({
      total,
      perKey: Math.max(1, Math.ceil(total / 4)),
      perTenant: Math.max(1, Math.ceil(total / 2)),
      queueMax: SLOT_QUEUE_MAX,
      queueWaitMs: SLOT_WAIT_MS,
    });
  }

  handle(res: HttpResponse, req: HttpRequest): void {
    const exchange = new HttpExchange(res, req, this.config);
    this.#serve(exchange).catch((err: unknown) => {
      this.log.warn({ err: String(err) }, "history read failed");
      this.#answer(exchange, "503 Service Unavailable", errorBody("history unavailable, try again"), [["retry-after", "1"]]);
    });
  }

  async #serve(exchange: HttpExchange): Promise<void> {
    const cors = corsFor(exchange.request.origin, this.config.allowedOrigins);
    if (!cors.allowed) return this.#answer(exchange, "403 Forbidden", errorBody("origin not allowed", "Origin"));
    exchange.cors = cors.headers;
    let query: HistoryQuery;
    try {
      query = parseHistoryQuery(exchange.request.query);
    } catch (err) {
      if (!(err instanceof HistoryQueryError)) throw err;
      return this.#answer(exchange, "400 Bad Request", errorBody(err.message, err.parameter));
    }
    const who = await this.auth.authenticate(exchange, undefined, (status) => this.#count(status));
    if (who === undefined) return;
    const owner = credentialOwner(who.credential);
    const wait = this.#rate.take(owner);
    if (wait > 0) return this.#answer(exchange, "429 Too Many Requests", errorBody(`rate limit: ${this.config.historyRatePerMin} requests per minute`), [["retry-after", String(wait)]]);
    if (this.reader === undefined) return this.#answer(exchange, "503 Service Unavailable", errorBody("history needs the stream (STREAM_ENABLED=false on this node)"));
    const partition = this.#partition(query, who);
    if (typeof partition === "string") return this.#answer(exchange, "400 Bad Request", errorBody(partition, "partition"));
    const reader = partition === undefined ? this.reader : (this.partitioned?.readers[partition] ?? this.reader);
    const tenantId = who.scope.role === "app" ? who.scope.tenantId : undefined;
    const slot = await this.#slots.acquire({ key: owner, tenantId }, () => exchange.aborted);
    if (!slot.granted) {
      if (exchange.aborted) return;
      return this.#answer(exchange, "503 Service Unavailable", errorBody("too many history reads at once, try again"), [["retry-after", "1"]]);
    }
    try {
      if (exchange.aborted) return;
      await this.#page(exchange, query, who, reader, partition);
    } finally {
      slot.release();
    }
  }

  /**
   * Which partition the request reads: undefined with a single stream; a message (400) when an
   * admin request names none or one that does not exist.
   */
  #partition(query: HistoryQuery, who: HttpAuthResult): number | undefined | string {
    const partitions = this.partitioned?.partitions;
    if (partitions === undefined || !partitions.partitioned) {
      return query.partition === undefined || query.partition === 0 ? undefined : "partition: this node has one stream (STREAM_PARTITIONS=1)";
    }
    const count = partitions.count;
    if (who.scope.role === "app") {
      const own = partitions.ofTenant(who.scope.tenantId).index;
      return query.partition === undefined || query.partition === own ? own : `partition: this credential's tenant is in partition ${own}`;
    }
    const fromCursor = query.position.type === "after" ? partitionOfEpoch(query.position.cursor.epoch, count) : undefined;
    const wanted = query.partition ?? fromCursor;
    if (wanted === undefined) {
      return query.position.type === "after"
        ? "after: the cursor's epoch names no partition of this stream (STREAM_PARTITIONS changed?): give partition=<k> with since, or start again"
        : `admin history over ${count} partitions needs partition=<0..${count - 1}> (or an after cursor, whose epoch names it)`;
    }
    if (wanted >= count) return `partition must be 0 to ${count - 1}`;
    if (fromCursor !== undefined && fromCursor !== wanted) return "partition disagrees with the after cursor's epoch";
    return wanted;
  }

  async #page(exchange: HttpExchange, query: HistoryQuery, who: HttpAuthResult, reader: Pick<StreamReader, "info" | "page" | "newest">, partition: number | undefined): Promise<void> {
    const info = await reader.info();
    if (info === null) return this.#answer(exchange, "503 Service Unavailable", errorBody("the stream does not exist yet"), [["retry-after", "1"]]);
    const epoch = epochOf(info, partition === undefined ? undefined : this.partitioned?.partitions.all[partition]);
    const filter = intersectFilters(query.filter, who.ceiling);
    const liveFilters = feedsOf(who.scope).map((f) => f.subject);
    const accept = (d: DecodedEvent): boolean => filterAllows(filter, d.event);
    const { limit } = query;
    const scanMax = this.config.historyScanMax;
    const position = query.position;
    let events: DecodedEvent[];
    let next: string | null = null;
    if (position.type === "newest") {
      events = await reader.newest({ liveFilters, limit, scanMax, accept });
    } else {
      let afterSeq: number | undefined;
      if (position.type === "after") {
        const { cursor } = position;
        // A position from another incarnation, or beyond this one's end, was not issued by it.
        if (cursor.epoch !== epoch || cursor.seq > info.state.last_seq) return this.#answer(exchange, "409 Conflict", errorBody("epoch"));
        if (cursor.seq + 1 < info.state.first_seq) return this.#answer(exchange, "410 Gone", errorBody("retention"));
        afterSeq = cursor.seq;
      }
      if (afterSeq !== undefined && afterSeq >= info.state.last_seq) {
        events = [];
      } else {
        const page = await reader.page({ liveFilters, from: afterSeq === undefined ? { timeMs: (position as { timeMs: number }).timeMs } : { afterSeq }, limit, scanMax, accept });
        events = page.events;
        if (page.more && page.lastExamined !== undefined) next = formatCursor({ epoch, seq: page.lastExamined });
      }
    }
    if (exchange.aborted) return;
    // The events' frames are the socket's JSON, encoded once when decoded: joined, not re-encoded.
    const body = `{"epoch":${JSON.stringify(epoch)},"events":[${events.map((e) => e.frame).join(",")}],"next":${next === null ? "null" : JSON.stringify(next)}}`;
    this.#answer(exchange, "200 OK", body, [["cache-control", "no-store"]]);
  }

  #answer(exchange: HttpExchange, status: string, body: string, headers: readonly (readonly [string, string])[] = []): void {
    if (exchange.done) return;
    this.#count(status);
    exchange.json(status, body, headers);
  }

  #count(status: string): void {
    this.metrics.historyRequests.inc({ status: status.slice(0, 3) });
  }
}
