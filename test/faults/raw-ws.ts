/**
 * A raw WebSocket client over node:net, for hostile-input tests: it writes whatever bytes it is
 * told to, valid or not, and reads back what the server sends (frames, close code, TCP end).
 *
 * - `encodeFrame` builds ANY frame: any opcode (0..15, reserved ones included), FIN and RSV1-3
 *   bits, masked or not (any mask key), any payload, and any length encoding: the shortest, a
 *   forced 16- or 64-bit one (non-minimal), or a declared length that lies (shorter or longer
 *   than the payload, 64-bit values with the most significant bit set).
 * - `RawWs.connect` performs the HTTP upgrade (extra headers, a preamble of garbage before the
 *   request, or a fully custom request) and exposes the server's response headers.
 * - `RawWs` parses server frames as they arrive, and records how the connection ended: the close
 *   frame's code and reason, and whether TCP ended or was reset.
 */
import { randomBytes } from "node:crypto";
import { connect as netConnect, type Socket } from "node:net";

export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

export interface FrameSpec {
  /** 0..15; reserved data opcodes are 3-7, reserved control opcodes 0xB-0xF. */
  opcode: number;
  /** Payload bytes (strings are UTF-8 encoded). Default empty. */
  payload?: Buffer | string;
  /** Default true. */
  fin?: boolean;
  /** RSV1..RSV3 as a 3-bit number (RSV1 = 4, RSV2 = 2, RSV3 = 1). Default 0. */
  rsv?: number;
  /**
   * Mask the payload (clients must; servers must close when they do not). `true` uses a random
   * key, a Buffer of 4 bytes uses that key, `false` sends the payload unmasked. Default true.
   */
  mask?: boolean | Buffer;
  /**
   * How the length is written: "auto" (shortest form), "16" or "64" (forced extended forms,
   * non-minimal for short payloads), or "7" (7-bit field, only valid when the declared length
   * is at most 125). Default "auto".
   */
  lengthEncoding?: "auto" | "7" | "16" | "64";
  /** Declared payload length, when it must lie about the real one. BigInt for 64-bit values. */
  declaredLength?: number | bigint;
}

/** Encode one client-to-server frame exactly as specified (no validation: that is the point). */
export function encodeFrame(spec: FrameSpec): Buffer {
  const payload = typeof spec.payload === "string" ? Buffer.from(spec.payload, "utf8") : (spec.payload ?? Buffer.alloc(0));
  const fin = spec.fin ?? true;
  const rsv = (spec.rsv ?? 0) & 0b111;
  const first = (fin ? 0x80 : 0) | (rsv << 4) | (spec.opcode & 0x0f);
  const declared = BigInt(spec.declaredLength ?? payload.length);
  let encoding = spec.lengthEncoding ?? "auto";
  if (encoding === "auto") encoding = declared <= 125n ? "7" : declared <= 0xffffn ? "16" : "64";
  const maskKey = spec.mask === false ? undefined : Buffer.isBuffer(spec.mask) ? spec.mask : randomBytes(4);
  const maskBit = maskKey === undefined ? 0 : 0x80;
  let header: Buffer;
  if (encoding === "7") {
    header = Buffer.from([first, maskBit | Number(declared & 0x7fn)]);
  } else if (encoding === "16") {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = maskBit | 126;
    header.writeUInt16BE(Number(declared & 0xffffn), 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = maskBit | 127;
    header.writeBigUInt64BE(declared & 0xffff_ffff_ffff_ffffn, 2);
  }
  if (maskKey === undefined) return Buffer.concat([header, payload]);
  const masked = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) masked[i] = (payload[i] as number) ^ (maskKey[i % 4] as number);
  return Buffer.concat([header, maskKey.subarray(0, 4), masked]);
}

/** A close frame payload: 2-byte code (omitted when undefined) and a reason. */
export function closePayload(code?: number, reason: Buffer | string = ""): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code & 0xffff);
  return Buffer.concat([head, typeof reason === "string" ? Buffer.from(reason) : reason]);
}

/** A frame the server sent. */
export interface ServerFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** Parse as many complete server frames as `buf` holds; returns them and the unconsumed rest. */
export function decodeFrames(buf: Buffer): { frames: ServerFrame[]; rest: Buffer } {
  const frames: ServerFrame[] = [];
  let off = 0;
  for (;;) {
    if (buf.length - off < 2) break;
    const b0 = buf[off] as number;
    const b1 = buf[off + 1] as number;
    let len = b1 & 0x7f;
    let pos = off + 2;
    if (len === 126) {
      if (buf.length - pos < 2) break;
      len = buf.readUInt16BE(pos);
      pos += 2;
    } else if (len === 127) {
      if (buf.length - pos < 8) break;
      len = Number(buf.readBigUInt64BE(pos));
      pos += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    let key: Buffer | undefined;
    if (masked) {
      if (buf.length - pos < 4) break;
      key = buf.subarray(pos, pos + 4);
      pos += 4;
    }
    if (buf.length - pos < len) break;
    const payload = Buffer.from(buf.subarray(pos, pos + len));
    if (key !== undefined) for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] as number) ^ (key[i % 4] as number);
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload });
    off = pos + len;
  }
  return { frames, rest: buf.subarray(off) };
}

export interface UpgradeOptions {
  path?: string;
  /** Extra request headers (added after the standard ones). */
  headers?: Record<string, string>;
  /** Bytes written before the HTTP request (garbage before the upgrade). */
  preamble?: Buffer;
  /** Send this instead of the generated request (fully custom upgrade). */
  rawRequest?: Buffer;
  /** Reject when the upgrade has not answered within this time. Default 5000. */
  timeoutMs?: number;
}

export interface UpgradeResponse {
  status: number;
  statusLine: string;
  /** Lower-cased header names. */
  headers: Record<string, string>;
}

export interface Ending {
  /** Close code of the server's close frame, if it sent one (undefined: no code in it). */
  closeCode: number | undefined;
  closeReason: string;
  /** Whether a close frame arrived. */
  closeFrame: boolean;
  /** How TCP ended: "end" (FIN), "error" (reset or similar), "destroyed" (by us). */
  tcp: "end" | "error" | "destroyed";
}

/** A raw client connection. After `connect` resolves, the WebSocket is open (status 101). */
export class RawWs {
  readonly frames: ServerFrame[] = [];
  /** Answer the server's close frame with one (default true). */
  echoClose = true;
  response: UpgradeResponse | undefined;
  ending: Ending | undefined;
  /** Bytes received before the frames (the HTTP response) and any unparsed rest. */
  #buf: Buffer = Buffer.alloc(0);
  #upgraded = false;
  #closeFrame: ServerFrame | undefined;
  #waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("end", () => this.#end("end"));
    socket.on("error", () => this.#end("error"));
    socket.on("close", () => this.#end("end"));
  }

  /** Open TCP only (no request written yet). */
  static tcp(port: number, host = "127.0.0.1"): Promise<RawWs> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ port, host, noDelay: true });
      socket.once("connect", () => resolve(new RawWs(socket)));
      socket.once("error", reject);
    });
  }

  /** TCP connect and WebSocket upgrade. Resolves with the connection whatever the status. */
  static async connect(port: number, options: UpgradeOptions = {}): Promise<RawWs> {
    const ws = await RawWs.tcp(port);
    await ws.upgrade(options);
    return ws;
  }

  static upgradeRequest(port: number, options: UpgradeOptions = {}): Buffer {
    const lines = [
      `GET ${options.path ?? "/ws"} HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}`,
      "Sec-WebSocket-Version: 13",
      ...Object.entries(options.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
    ];
    return Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
  }

  /** Write the upgrade request and wait for the response head. */
  upgrade(options: UpgradeOptions = {}): Promise<UpgradeResponse> {
    const port = this.socket.remotePort as number;
    if (options.preamble !== undefined) this.socket.write(options.preamble);
    this.socket.write(options.rawRequest ?? RawWs.upgradeRequest(port, options));
    return this.until(() => this.response !== undefined || this.ending !== undefined, options.timeoutMs ?? 5000, "upgrade response").then(() => {
      if (this.response === undefined) throw new Error("connection ended before the upgrade response");
      return this.response;
    });
  }

  get open(): boolean {
    return this.response?.status === 101 && this.ending === undefined;
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }

  send(spec: FrameSpec | FrameSpec[]): void {
    const specs = Array.isArray(spec) ? spec : [spec];
    this.write(Buffer.concat(specs.map(encodeFrame)));
  }

  sendText(text: string | Buffer): void {
    this.send({ opcode: Opcode.Text, payload: text });
  }

  /** Text frames the server sent, parsed as JSON where possible. */
  messages(): unknown[] {
    return this.frames
      .filter((f) => f.opcode === Opcode.Text)
      .map((f) => {
        try {
          return JSON.parse(f.payload.toString("utf8")) as unknown;
        } catch {
          return f.payload.toString("utf8");
        }
      });
  }

  /**
   * Liveness probe: send a ping with a random payload and wait for the matching pong. Frames are
   * processed in order, so a pong proves the server handled everything sent before it.
   */
  async probe(timeoutMs = 5000): Promise<void> {
    const token = randomBytes(8);
    this.send({ opcode: Opcode.Ping, payload: token });
    await this.until(
      () => this.ending !== undefined || this.frames.some((f) => f.opcode === Opcode.Pong && f.payload.equals(token)),
      timeoutMs,
      "pong",
    );
    if (!this.frames.some((f) => f.opcode === Opcode.Pong && f.payload.equals(token))) {
      throw new Error(`connection ended instead of answering the ping: ${JSON.stringify(this.ending)}`);
    }
  }

  /** Send a ping and wait for its pong or for the end of the connection, whichever comes first. */
  async probeOrEnd(timeoutMs = 5000): Promise<"alive" | "ended"> {
    const token = randomBytes(8);
    this.send({ opcode: Opcode.Ping, payload: token });
    const pong = (): boolean => this.frames.some((f) => f.opcode === Opcode.Pong && f.payload.equals(token));
    await this.until(() => this.ending !== undefined || pong(), timeoutMs, "pong or end");
    return pong() ? "alive" : "ended";
  }

  /** Wait until the server ends the connection (close frame and/or TCP end). */
  async ended(timeoutMs = 5000): Promise<Ending> {
    await this.until(() => this.ending !== undefined, timeoutMs, "the connection to end");
    return this.ending as Ending;
  }

  /** Resolve when the condition holds (checked on every arrival); reject after timeoutMs. */
  until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`raw-ws: timed out after ${timeoutMs} ms waiting for ${what}`));
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

  /** Close the TCP connection at once (no close frame). */
  destroy(): void {
    if (!this.socket.destroyed) this.socket.destroy();
    this.#end("destroyed");
  }

  #onData(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    if (!this.#upgraded) {
      const end = this.#buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = this.#buf.subarray(0, end).toString("latin1").split("\r\n");
      const statusLine = head[0] ?? "";
      const headers: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const i = line.indexOf(":");
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      this.response = { status: Number(statusLine.split(" ")[1]), statusLine, headers };
      this.#upgraded = true;
      this.#buf = this.#buf.subarray(end + 4);
      if (this.response.status !== 101) {
        this.#wake();
        return;
      }
    }
    if (this.response?.status === 101) {
      const { frames, rest } = decodeFrames(this.#buf);
      this.#buf = rest;
      for (const f of frames) {
        this.frames.push(f);
        if (f.opcode === Opcode.Close && this.#closeFrame === undefined) {
          this.#closeFrame = f;
          // Complete the closing handshake like a well-behaved client (echo the code).
          if (this.echoClose) this.send({ opcode: Opcode.Close, payload: f.payload.subarray(0, 2) });
        }
      }
    }
    this.#wake();
  }

  #end(tcp: Ending["tcp"]): void {
    if (this.ending !== undefined) return;
    const close = this.#closeFrame;
    this.ending = {
      closeFrame: close !== undefined,
      closeCode: close !== undefined && close.payload.length >= 2 ? close.payload.readUInt16BE(0) : undefined,
      closeReason: close !== undefined ? close.payload.subarray(2).toString("utf8") : "",
      tcp,
    };
    if (!this.socket.destroyed) this.socket.destroy();
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}
