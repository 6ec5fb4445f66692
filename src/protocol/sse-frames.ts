/**
 * Server-Sent Events frames (README.md, "Server-Sent Events"): each event as `id: <epoch>:<seq>`, `event: <type>`,
 * `data: <the same JSON as on a socket>`. JSON.stringify escapes every CR and LF, so one `data:`
 * line always carries the whole object. Constant frames are encoded once.
 */
import { PING_FRAME } from "./server-messages.js";
import type { Refusal } from "./refusal.js";

/**
 * An event from its type, its sequence and its JSON frame; without `id` when it came on the
 * direct path (no sequence) or there is no stream.
 */
export function sseEvent(epoch: string | undefined, type: string, seq: number | undefined, json: string): string {
  const id = seq === undefined || epoch === undefined ? "" : `id: ${epoch}:${seq}\n`;
  return `${id}event: ${type}\ndata: ${json}\n\n`;
}

/** A server message that is not an event (resumed, resume_failed, ping): named by its type. */
export function sseMessageFrame(type: string, json: string): string {
  return `event: ${type}\ndata: ${json}\n\n`;
}

export const SSE_PING_FRAME = sseMessageFrame("ping", PING_FRAME);

/** The last frame of a stream the node ends: the same code and reason a socket would get. */
export function sseCloseFrame(refusal: Refusal): string {
  return sseMessageFrame("close", JSON.stringify({ code: refusal.code, reason: refusal.reason }));
}

/**
 * The first frame: how long EventSource waits before reconnecting. Chosen at random per stream
 * in [min, max), so streams ended together (a drain) do not all come back together.
 */
export function sseRetryFrame(min: number, max: number, random: () => number = Math.random): string {
  return `retry: ${Math.floor(min + random() * (max - min))}\n\n`;
}
