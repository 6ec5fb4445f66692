/**
 * What a replay needs of a socket: a narrow port the server implements (src/server/sockets.ts),
 * so that resume never depends on the server it serves.
 */
import type { SmsEvent } from "../events/event.js";
import type { Refusal } from "../protocol/refusal.js";
import type { Feed } from "../scope/scope.js";
import type { ReplayOwner } from "./replay-slots.js";

export interface ReplaySocket {
  /** For logs. */
  readonly id: number;
  /** The live feeds the socket joins once the replay is done; the replay reads the same. */
  readonly feeds: readonly Feed[];
  /** Who replays, for the per-key and per-tenant caps. */
  readonly owner: ReplayOwner;
  /** The socket's filter (README.md, "Filters and watches"): replayed and held events it refuses are skipped. */
  allows(event: SmsEvent): boolean;
  isClosed(): boolean;
  send(frame: string): void;
  /**
   * Send frames from index `from` on, under one cork, while the socket's buffer stays under
   * `budgetBytes`; returns the index of the first frame not sent (frames.length when all were).
   */
  sendMany(frames: readonly string[], from: number, budgetBytes: number): number;
  /** Join the live topics: from now on uWS delivers the feeds' events. */
  goLive(): void;
  close(refusal: Refusal): void;
}
