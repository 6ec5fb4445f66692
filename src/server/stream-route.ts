/**
 * `GET /v1/events/stream` (README.md, "Server-Sent Events"): the socket's protocol over
 * text/event-stream. The same credential, scope, filter, resume, heartbeat, slow-consumer,
 * revocation, expiry, drain and tenant-cap rules as a socket; the stream's end is told as a final
 * `event: close` carrying the socket's close code and reason.
 *
 * The seam is the socket's: the scope's feeds are subscribed before anything is sent; with
 * Last-Event-ID the Replayer replays through the ReplaySocket port (holding live events meanwhile,
 * so nothing is missed or repeated), then the stream joins its topics' live set.
 */
import type { Logger } from "pino";
import type { HttpRequest, HttpResponse } from "uWebSockets.js";
import type { FeedRegistry } from "../bus/feed-registry.js";
import type { Config } from "../config/config.js";
import type { Metrics } from "../metrics/metrics.js";
import { credentialLogFields, credentialOwner } from "../protocol/credential.js";
import { HistoryQueryError, parseCursor, parseStreamQuery, type StreamQuery } from "../protocol/history-query.js";
import { Refusals } from "../protocol/refusal.js";
import { sseEvent, sseMessageFrame, sseRetryFrame } from "../protocol/sse-frames.js";
import type { ResumeRequest } from "../protocol/client-messages.js";
import { resumeFailedFrame } from "../protocol/server-messages.js";
import type { ReplaySocket } from "../resume/replay-socket.js";
import { filterAllows, intersectFilters, type EventFilter } from "../scope/filter.js";
import type { SmsEvent } from "../events/event.js";
import type { Admission } from "./admission.js";
import { corsFor } from "./cors.js";
import { EventStream } from "./event-stream.js";
import type { EventStreams } from "./event-streams.js";
import { errorBody, HttpExchange } from "./http-exchange.js";
import type { HttpAuth } from "./http-auth.js";
import type { NodeHealth } from "./readiness.js";
import type { ScopeTable } from "./scopes.js";
import type { Resumer } from "./socket-lifecycle.js";

/** EventSource's reconnect delay, chosen per stream in this range (spreads a drain's reconnects). */
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 5000;

const SSE_HEADERS: readonly (readonly [string, string])[] = [
  ["content-type", "text/event-stream; charset=utf-8"],
  ["cache-control", "no-store"],
  // nginx and some ingresses buffer responses unless told not to.
  ["x-accel-buffering", "no"],
];

export interface StreamRouteDeps {
  config: Pick<Config, "allowedOrigins" | "trustedProxyHeader" | "trustedProxies" | "maxBackpressureBytes" | "maxSseStreamsPerTenant">;
  log: Logger;
  metrics: Metrics;
  health: NodeHealth;
  auth: HttpAuth;
  admission: Admission;
  scopes: ScopeTable;
  feeds: FeedRegistry;
  streams: EventStreams;
  resumer: Resumer | undefined;
}

export class StreamRoute {
  #nextId = 1;

  constructor(private readonly deps: StreamRouteDeps) {}

  handle(res: HttpResponse, req: HttpRequest): void {
    const exchange = new HttpExchange(res, req, this.deps.config);
    this.#serve(exchange).catch((err: unknown) => {
      this.deps.log.warn({ err: String(err) }, "sse stream failed to start");
      if (!exchange.done) exchange.json("503 Service Unavailable", errorBody("try again"), [["retry-after", "1"]]);
    });
  }

  async #serve(exchange: HttpExchange): Promise<void> {
    const { config, health, admission, metrics } = this.deps;
    const { request } = exchange;
    if (health.draining) return exchange.json("503 Service Unavailable", errorBody("draining"), [["retry-after", "1"]]);
    const cors = corsFor(request.origin, config.allowedOrigins);
    if (!cors.allowed) return exchange.json("403 Forbidden", errorBody("origin not allowed", "Origin"));
    exchange.cors = cors.headers;
    let query: StreamQuery;
    let resume: ResumeRequest | undefined;
    try {
      query = parseStreamQuery(request.query);
      if (request.lastEventId !== "") resume = parseCursor(request.lastEventId, "Last-Event-ID");
    } catch (err) {
      if (!(err instanceof HistoryQueryError)) throw err;
      return exchange.json("400 Bad Request", errorBody(err.message, err.parameter));
    }
    const who = await this.deps.auth.authenticate(exchange, query.token, () => {});
    if (who === undefined || exchange.done) return;
    // One tenant's streams are a JavaScript loop per event: capped, so no tenant can buy unbounded fan-out work.
    if (who.scope.role === "app" && config.maxSseStreamsPerTenant > 0 && this.deps.streams.ofTenant(who.scope.tenantId) >= config.maxSseStreamsPerTenant) {
      metrics.auth.inc({ outcome: "tenant_limit" });
      return exchange.json("429 Too Many Requests", errorBody("Too many SSE streams for this tenant"), [["retry-after", "5"]]);
    }
    if (who.scope.role === "app" && !admission.joinTenant(who.scope.tenantId)) {
      metrics.auth.inc({ outcome: "tenant_limit" });
      return exchange.json("429 Too Many Requests", errorBody(Refusals.tenantLimit.reason), [["retry-after", "5"]]);
    }
    const filter = intersectFilters(query.filter, who.ceiling);
    const shared = this.deps.scopes.join(who.scope);
    const stream = new EventStream(
      exchange.res,
      { id: this.#nextId++, ip: request.ip, openedAt: Date.now(), scope: shared.scope, feeds: shared.feeds, credential: who.credential, filter },
      config.maxBackpressureBytes,
      (s) => this.#ended(s),
    );
    exchange.onAbort = () => stream.aborted();
    this.deps.streams.add(stream);
    try {
      await this.deps.feeds.acquire(shared.feeds);
    } catch (err) {
      this.deps.log.warn({ err: String(err), stream: stream.info.id }, "subscribing failed; ending the sse stream");
      stream.close(Refusals.retry);
      return;
    }
    if (stream.closed) return;
    // The response starts only once the feeds are subscribed at the server: a client that sees
    // the stream open (EventSource onopen) gets every event published from then on.
    exchange.startStream(SSE_HEADERS, sseRetryFrame(RETRY_MIN_MS, RETRY_MAX_MS));
    this.deps.log.debug({ stream: stream.info.id, ip: request.ip, ...credentialLogFields(who.credential) }, "sse stream opened");
    const resumer = this.deps.resumer;
    if (resume === undefined) {
      this.deps.streams.goLive(stream);
    } else if (resumer === undefined) {
      stream.write(sseMessageFrame("resume_failed", resumeFailedFrame("unavailable")));
      this.deps.streams.goLive(stream);
    } else {
      stream.state = "replaying";
      const tenantId = who.scope.role === "app" ? who.scope.tenantId : undefined;
      resumer.resume(this.#replaySocket(stream, { key: credentialOwner(who.credential), tenantId }), resume);
    }
  }

  /** The stream as resume sees it: the Replayer's JSON frames become SSE frames here. */
  #replaySocket(stream: EventStream, owner: ReplaySocket["owner"]): ReplaySocket {
    const epoch = (tenantId: string): string | undefined => this.deps.streams.epochOfTenant(tenantId);
    const filter = stream.info.filter;
    return {
      id: stream.info.id,
      feeds: stream.info.feeds,
      owner,
      isClosed: () => stream.closed,
      allows: (event) => filterAllows(filter, event),
      send: (frame) => {
        const sse = sseOfFrame(frame, epoch, filter);
        if (sse !== undefined) stream.write(sse);
      },
      sendMany: (frames, from, budget) => {
        let i = from;
        stream.cork(() => {
          for (; i < frames.length && !stream.closed && stream.bufferedBytes < budget; i++) {
            const sse = sseOfFrame(frames[i] as string, epoch, filter);
            if (sse !== undefined) stream.write(sse);
          }
        });
        return i;
      },
      goLive: () => this.deps.streams.goLive(stream),
      close: (refusal) => stream.close(refusal),
    };
  }

  #ended(stream: EventStream): void {
    const { info } = stream;
    this.deps.streams.delete(stream);
    this.deps.feeds.release(info.feeds);
    this.deps.scopes.leave(info.scope);
    if (info.scope.role === "app") this.deps.admission.leaveTenant(info.scope.tenantId);
    if (stream.closedBy === Refusals.slowConsumer) this.deps.metrics.slowConsumerCloses.inc();
    this.deps.log.debug({ stream: info.id, code: stream.closedBy?.code, delivered: stream.delivered }, "sse stream closed");
  }
}

/**
 * A frame the Replayer sends (the socket's JSON) as SSE: events by their type and sequence (and
 * only when the filter lets them through), anything else (resumed, resume_failed) by its type.
 */
function sseOfFrame(frame: string, epoch: (tenantId: string) => string | undefined, filter: EventFilter): string | undefined {
  const message = JSON.parse(frame) as { type: string; seq?: number; tenantId?: string };
  if (message.type === "sms_status" || message.type === "sms_inbound") {
    if (!filterAllows(filter, message as SmsEvent)) return undefined;
    return sseEvent(epoch(message.tenantId ?? ""), message.type, message.seq, frame);
  }
  return sseMessageFrame(message.type, frame);
}
