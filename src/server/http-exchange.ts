/**
 * One HTTP request of the events API (history, SSE) and its answer, over uWS's rules: everything
 * is read from `req` synchronously, in readRequest(), before any return or await (uWS reuses it);
 * onAborted is attached at once, so a client that goes away while we wait on NATS is noticed and
 * its response never touched again; every write is corked. A large body (a 1000-event page) goes
 * out with tryEnd/onWritable, at the reader's pace, never copied again.
 */
import type { HttpRequest, HttpResponse } from "uWebSockets.js";
import type { Config } from "../config/config.js";
import { addressKey } from "../net/ip.js";
import { clientAddress, headerLines } from "./client-address.js";

export type Headers = readonly (readonly [string, string])[];

export interface EventsRequest {
  readonly query: string;
  /** Every Authorization line (two are refused: which one counts would be a guess). */
  readonly authorization: readonly string[];
  readonly origin: string;
  readonly lastEventId: string;
  readonly ip: string;
  readonly ipKey: string;
}

export class HttpExchange {
  #aborted = false;
  #answered = false;
  readonly request: EventsRequest;
  /** CORS headers, once decided; every answer carries them. */
  cors: Headers = [];
  /** Runs when the client goes away before the answer is complete. */
  onAbort: (() => void) | undefined;

  constructor(
    readonly res: HttpResponse,
    req: HttpRequest,
    config: Pick<Config, "trustedProxyHeader" | "trustedProxies">,
  ) {
    // uWS: everything read from req must be read here, before any return or await.
    const forwarded = config.trustedProxyHeader === "" ? [] : headerLines(req, config.trustedProxyHeader);
    const ip = clientAddress(Buffer.from(res.getRemoteAddressAsText()).toString(), forwarded, config.trustedProxies);
    this.request = {
      query: req.getQuery() ?? "",
      authorization: headerLines(req, "authorization"),
      origin: req.getHeader("origin"),
      lastEventId: req.getHeader("last-event-id"),
      ip,
      ipKey: addressKey(ip),
    };
    res.onAborted(() => {
      this.#aborted = true;
      this.onAbort?.();
    });
  }

  /** The client went away, or the answer was given: nothing more may be written. */
  get done(): boolean {
    return this.#aborted || this.#answered;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  /** A JSON answer: `{"error": message}` bodies and history pages alike. */
  json(status: string, body: string, headers: Headers = []): void {
    this.#end(status, [["content-type", "application/json"], ...headers], Buffer.from(body));
  }

  /** An empty answer (a CORS preflight). */
  empty(status: string, headers: Headers = []): void {
    if (this.done) return;
    this.#answered = true;
    this.res.cork(() => {
      this.res.writeStatus(status);
      for (const [k, v] of [...this.cors, ...headers]) this.res.writeHeader(k, v);
      this.res.endWithoutBody();
    });
  }

  /** Start a streamed answer (SSE): status and headers, then the caller writes the body. */
  startStream(headers: Headers, first: string): void {
    if (this.done) return;
    this.#answered = true;
    this.res.cork(() => {
      this.res.writeStatus("200 OK");
      for (const [k, v] of [...this.cors, ...headers]) this.res.writeHeader(k, v);
      this.res.write(first);
    });
  }

  #end(status: string, headers: Headers, body: Buffer): void {
    if (this.done) return;
    this.#answered = true;
    const res = this.res;
    res.cork(() => {
      res.writeStatus(status);
      for (const [k, v] of [...this.cors, ...headers]) res.writeHeader(k, v);
      const start = res.getWriteOffset();
      const [ok, finished] = res.tryEnd(body, body.length);
      if (ok || finished) return;
      // A slow reader: the rest goes out as it reads (uWS calls back with its write offset).
      res.onWritable((offset) => {
        if (this.#aborted) return true;
        const [sent] = res.tryEnd(body.subarray(offset - start), body.length);
        return sent;
      });
    });
  }
}

/** `{"error": message}` (and the parameter, when one is at fault). */
export function errorBody(error: string, parameter?: string): string {
  return JSON.stringify(parameter === undefined ? { error } : { error, parameter });
}
