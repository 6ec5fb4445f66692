/** A test client on the `ws` package (a different implementation than the server's uWS). */
import WebSocket from "ws";

export interface Frame {
  [key: string]: unknown;
  type: string;
}

export class TestClient {
  readonly ws: WebSocket;
  readonly frames: Frame[] = [];
  readonly raw: string[] = [];
  closed: { code: number; reason: string } | undefined;
  #waiters: (() => void)[] = [];
  readonly opened: Promise<void>;

  constructor(url: string, options: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(url, options);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("error", reject);
      this.ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    this.ws.on("error", () => {});
    this.ws.on("message", (data, isBinary) => {
      const text = isBinary ? "<binary>" : String(data);
      this.raw.push(text);
      try {
        this.frames.push(JSON.parse(text) as Frame);
      } catch {
        this.frames.push({ type: "<unparsable>", text });
      }
      this.#wake();
    });
    this.ws.on("close", (code, reason) => {
      this.closed = { code, reason: String(reason) };
      this.#wake();
    });
  }

  static async connect(url: string, options?: WebSocket.ClientOptions): Promise<TestClient> {
    const c = new TestClient(url, options);
    await c.opened;
    return c;
  }

  /** Connect and authenticate; resolves after auth_ok. */
  static async authed(url: string, apiKey: string, extra: Record<string, unknown> = {}): Promise<TestClient> {
    const c = await TestClient.connect(url);
    c.sendJson({ type: "auth", apiKey, ...extra });
    await c.waitFor((f) => f.type === "auth_ok" || f.type === "auth_error");
    if (c.frames[0]?.type !== "auth_ok") throw new Error(`auth failed: ${c.raw[0]}`);
    return c;
  }

  sendJson(value: unknown): void {
    this.ws.send(JSON.stringify(value));
  }

  events(): Frame[] {
    return this.frames.filter((f) => f.type === "sms_status" || f.type === "sms_inbound");
  }

  /** The event frames as received, byte for byte (heartbeat pings and other frames left out). */
  rawEvents(): string[] {
    return this.raw.filter((_, i) => {
      const type = this.frames[i]?.type;
      return type === "sms_status" || type === "sms_inbound";
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Resolve when the condition holds; reject after timeoutMs (a failing test, never a sleep). */
  until(condition: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; frames: ${this.raw.slice(-5).join(" | ")}`));
      }, timeoutMs);
      const check = (): void => {
        if (condition()) {
          clearTimeout(timer);
          resolve();
        } else {
          this.#waiters.push(check);
        }
      };
      check();
    });
  }

  async waitFor(predicate: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    await this.until(() => this.frames.some(predicate), timeoutMs, "a matching frame");
    return this.frames.find(predicate) as Frame;
  }

  waitForEvents(n: number, timeoutMs = 5000): Promise<void> {
    return this.until(() => this.events().length >= n, timeoutMs, `${n} events (have ${this.events().length})`);
  }

  async waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    await this.until(() => this.closed !== undefined, timeoutMs, "close");
    return this.closed as { code: number; reason: string };
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }
}
