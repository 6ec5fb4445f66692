/**
 * Readiness: the one place that decides whether /readyz answers 200, and why not. The node sets
 * each fact as it changes (NATS state, first key-store load, first stream check, drain).
 */

export type Readiness = { ready: true } | { ready: false; reasons: string[] };

export class NodeHealth {
  natsConnected = false;
  keysLoaded = false;
  /** The stream has been checked once (always true when the node runs without a stream). */
  streamChecked: boolean;
  draining = false;
  /** The listener is closed because descriptors are near RLIMIT_NOFILE (accept-guard.ts). */
  acceptPaused = false;

  constructor(streamRequired: boolean) {
    this.streamChecked = !streamRequired;
  }

  readiness(): Readiness {
    const reasons: string[] = [];
    if (this.draining) reasons.push("draining");
    if (!this.natsConnected) reasons.push("nats_disconnected");
    if (!this.keysLoaded) reasons.push("keys_not_loaded");
    if (!this.streamChecked) reasons.push("stream_not_ready");
    if (this.acceptPaused) reasons.push("accept_paused");
    return reasons.length === 0 ? { ready: true } : { ready: false, reasons };
  }
}
