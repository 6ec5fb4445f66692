/**
 * What uWebSockets.js does with many or large request headers, measured on a minimal uWS app over
 * raw TCP (docs/runtime.md, "HTTP header limits"). The uWS loaded is the one the gateway loads
 * (src/runtime/uws-runtime.ts): 20.57 on the production runtime (Node 24, glibc >= 2.38), the
 * development fallback 20.30 on Node 20 / Debian 12. CI runs this file on both (.ci/run), so both
 * behaviours stay pinned; when uWS changes, these tests fail and docs/runtime.md must follow.
 *
 * uWS 20.57 (production): a header block (request line and headers) over 4 KiB, or more than 98
 * header lines, is answered `431 Request Header Fields Too Large` at once and closed, whether it
 * arrives in one read or in pieces. Nothing is held open.
 *
 * uWS 20.30 (development only): its parser has 50 header slots (the request line, up to 48 header
 * lines, an end marker) and a 4 KiB buffer for a request that has not been parsed yet. It never
 * answers 431. A request with more than 48 header lines cannot be parsed, so it counts as "not
 * complete yet": if its unparsed bytes pass 4 KiB, the connection is closed at once, without an
 * answer; otherwise uWS waits until its HTTP idle timeout (about 10 s) and then closes, without an
 * answer (the "hang" that 20.57 removed). A request whose header block arrives in one read is
 * parsed whatever its size.
 */
import { createRequire } from "node:module";
import { connect } from "node:net";
import type { us_listen_socket } from "uWebSockets.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isNativeUws, loadUws } from "../../src/runtime/uws-runtime.js";

const uWS = loadUws();
/** Is the production uWS 20.57 loaded (or the 20.30 development fallback)? */
const production = ((): boolean => {
  try {
    const mod: unknown = createRequire(import.meta.url)("uWebSockets.js");
    return isNativeUws(mod) && mod === uWS;
  } catch {
    return false;
  }
})();

let port: number;
let listenSocket: us_listen_socket | undefined;

beforeAll(async () => {
  const app = uWS.App();
  app.any("/*", (res) => {
    res.cork(() => res.writeStatus("200 OK").end("ok"));
  });
  listenSocket = await new Promise<us_listen_socket>((resolve, reject) =>
    app.listen("127.0.0.1", 0, (s) => (s === false ? reject(new Error("listen failed")) : resolve(s))),
  );
  port = uWS.us_socket_local_port(listenSocket);
});

afterAll(() => {
  if (listenSocket !== undefined) uWS.us_listen_socket_close(listenSocket);
});

interface Outcome {
  /** The status line, if any answer came. */
  status: string | undefined;
  /** ms from connect to the first byte of an answer. */
  answeredAfter: number | undefined;
  /** ms from connect to the server closing the connection. */
  closedAfter: number | undefined;
}

/**
 * Send one request and watch: resolves at the first answer byte or at the close, whichever is
 * first; or, when `untilClose`, only at the close (bounded by `deadlineMs`, then it reports what
 * it saw: a deadline, never a sleep).
 */
function request(text: string, options: { untilClose?: boolean; deadlineMs?: number; pieces?: number } = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const sock = connect(port, "127.0.0.1");
    let started = 0;
    let data = "";
    const outcome: Outcome = { status: undefined, answeredAfter: undefined, closedAfter: undefined };
    const finish = (): void => {
      clearTimeout(deadline);
      sock.destroy();
      resolve(outcome);
    };
    const deadline = setTimeout(finish, options.deadlineMs ?? 20_000);
    sock.on("connect", () => {
      started = Date.now();
      if (options.pieces === undefined) {
        sock.write(text);
        return;
      }
      // In pieces: each write waits for the previous one to be flushed to the kernel.
      const size = options.pieces;
      const next = (at: number): void => {
        if (at < text.length && !sock.destroyed) sock.write(text.slice(at, at + size), () => next(at + size));
      };
      next(0);
    });
    sock.on("data", (chunk: Buffer) => {
      outcome.answeredAfter ??= Date.now() - started;
      data += chunk.toString("latin1");
      outcome.status = data.split("\r\n")[0];
      if (!options.untilClose) finish();
    });
    sock.on("error", () => {});
    sock.on("close", () => {
      outcome.closedAfter ??= Date.now() - started;
      finish();
    });
  });
}

function withHeaders(count: number, valueLength: number): string {
  let headers = "";
  for (let i = 0; i < count; i++) headers += `x-h${i}: ${"a".repeat(valueLength)}\r\n`;
  // `host` is one more header line.
  return `GET /ws HTTP/1.1\r\nhost: gateway\r\n${headers}\r\n`;
}

function prompt(o: Outcome): boolean {
  return (o.answeredAfter ?? Infinity) < 1000 || (o.closedAfter ?? Infinity) < 1000;
}

const TOO_LARGE = "HTTP/1.1 431 Request Header Fields Too Large";

describe(`HTTP header limits of uWebSockets.js ${production ? "20.57 (production)" : "20.30 (development fallback)"}`, () => {
  it("serves a request with 48 header lines", async () => {
    const o = await request(withHeaders(47, 10));
    expect(o.status).toBe("HTTP/1.1 200 OK");
    expect(o.answeredAfter).toBeLessThan(1000);
  });

  if (production) {
    it("serves up to 98 header lines, answers 431 at once from 99", async () => {
      const ok = await request(withHeaders(97, 1));
      expect(ok.status, JSON.stringify(ok)).toBe("HTTP/1.1 200 OK");
      for (const count of [98, 199]) {
        const o = await request(withHeaders(count, 1), { untilClose: true });
        expect(o.status, JSON.stringify(o)).toBe(TOO_LARGE);
        expect(o.closedAfter, JSON.stringify(o)).toBeLessThan(1000);
      }
    });

    it("serves a header block up to 4 KiB, answers 431 at once above it, in one read or in pieces", async () => {
      // The block: request line, host and one x-h0 line of `n` bytes, then the blank line.
      const ok = await request(withHeaders(1, 4040));
      expect(ok.status, JSON.stringify(ok)).toBe("HTTP/1.1 200 OK");
      for (const text of [withHeaders(1, 4100), withHeaders(1, 64 * 1024 - 64), withHeaders(64, 1000), withHeaders(200, 30)]) {
        const o = await request(text, { untilClose: true });
        expect(o.status, `${text.length} bytes: ${JSON.stringify(o)}`).toBe(TOO_LARGE);
        expect(o.closedAfter, JSON.stringify(o)).toBeLessThan(1000);
      }
      const pieces = await request(withHeaders(1, 8000), { untilClose: true, pieces: 1000 });
      expect(pieces.status, JSON.stringify(pieces)).toBe(TOO_LARGE);
      expect(pieces.closedAfter, JSON.stringify(pieces)).toBeLessThan(1000);
    });
    return;
  }

  it("answers or closes at once a request with 64 KB of headers", async () => {
    // One 64 KB header: parsed when it arrives in one read (answered), closed at once when it
    // arrives in pieces (the unparsed part passes 4 KiB). Either way, within 1 s.
    const one = await request(withHeaders(1, 64 * 1024 - 64));
    expect(prompt(one), JSON.stringify(one)).toBe(true);
    if (one.status !== undefined) expect(one.status).toBe("HTTP/1.1 200 OK");
    // 64 KB over 64 headers: too many lines and over 4 KiB: closed at once, no answer.
    const many = await request(withHeaders(64, 1000));
    expect(many.status).toBeUndefined();
    expect(many.closedAfter).toBeLessThan(1000);
  });

  it("closes at once, without an answer, 200 headers that pass 4 KiB", async () => {
    const o = await request(withHeaders(200, 30));
    expect(o.status).toBeUndefined();
    expect(o.closedAfter).toBeLessThan(1000);
  });

  it("KNOWN LIMITATION of 20.30: holds 49 or 200 small header lines (under 4 KiB) unanswered until its ~10 s idle timeout", async () => {
    const [just, many] = await Promise.all([
      request(withHeaders(48, 1), { untilClose: true }),
      request(withHeaders(200, 1), { untilClose: true }),
    ]);
    for (const o of [just, many]) {
      // Never answered (no 431, no 400), and not closed promptly either...
      expect(o.status, JSON.stringify(o)).toBeUndefined();
      expect(o.closedAfter, JSON.stringify(o)).toBeGreaterThan(1000);
      // ...but closed by uWS's HTTP idle timeout (10 s, checked every 4 s), not held forever.
      expect(o.closedAfter, JSON.stringify(o)).toBeLessThan(16_000);
    }
  }, 30_000);
});
