/**
 * A Server-Sent Events reader on Node's fetch (Node 20 has no EventSource): the text/event-stream
 * parsed by hand, as the spec (HTML, "event stream interpretation") reads it.
 */
export interface SseMessage {
  event: string;
  data: string;
  id: string | undefined;
}

export class SseReader {
  readonly messages: SseMessage[] = [];
  status = 0;
  headers: Headers | undefined;
  ended = false;
  error: unknown;
  /** The last `id:` seen: what an EventSource sends as Last-Event-ID when it reconnects. */
  lastEventId: string | undefined;
  readonly #controller = new AbortController();
  #waiters: (() => void)[] = [];
  readonly opened: Promise<void>;

  constructor(url: string, headers: Record<string, string> = {}) {
    this.opened = this.#run(url, headers);
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    const r = new SseReader(url, headers);
    await r.until(() => r.status !== 0 || r.ended, 5000, "response headers");
    return r;
  }

  async #run(url: string, headers: Record<string, string>): Promise<void> {
    try {
      const res = await fetch(url, { headers, signal: this.#controller.signal });
      this.status = res.status;
      this.headers = res.headers;
      this.#wake();
      if (res.body === null) return;
      const decoder = new TextDecoder();
      let buffer = "";
      let event = "";
      let data: string[] = [];
      let id: string | undefined;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + (buffer.startsWith("\r\n", nl) ? 2 : 1));
          if (line === "") {
            if (data.length > 0 || event !== "") {
              if (id !== undefined) this.lastEventId = id;
              this.messages.push({ event: event === "" ? "message" : event, data: data.join("\n"), id });
            }
            event = "";
            data = [];
            id = undefined;
            this.#wake();
            continue;
          }
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let value = colon < 0 ? "" : line.slice(colon + 1);
          if (value.startsWith(" ")) value = value.slice(1);
          if (field === "event") event = value;
          else if (field === "data") data.push(value);
          else if (field === "id") id = value;
        }
      }
    } catch (err) {
      this.error = err;
    } finally {
      this.ended = true;
      this.#wake();
    }
  }

  /** Messages of these types (default: the two event types). */
  events(types: readonly string[] = ["sms_status", "sms_inbound"]): SseMessage[] {
    return this.messages.filter((m) => types.includes(m.event));
  }

  json(types?: readonly string[]): Record<string, unknown>[] {
    return this.events(types).map((m) => JSON.parse(m.data) as Record<string, unknown>);
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  until(condition: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(this.messages.slice(-3))}`)), timeoutMs);
      const check = (): void => {
        if (condition()) {
          clearTimeout(timer);
          resolve();
        } else this.#waiters.push(check);
      };
      check();
    });
  }

  waitForEvents(n: number, timeoutMs = 5000): Promise<void> {
    return this.until(() => this.events().length >= n, timeoutMs, `${n} events (have ${this.events().length})`);
  }

  close(): void {
    this.#controller.abort();
  }
}
