/** Readiness: the one place that decides whether /readyz answers 200, and why not. */

export interface ReadinessInputs {
  natsConnected: () => boolean;
  keysLoaded: () => boolean;
  streamReady: () => boolean;
  draining: () => boolean;
}

export type Readiness = { ready: true } | { ready: false; reasons: string[] };

export function readiness(inputs: ReadinessInputs): Readiness {
  const reasons: string[] = [];
  if (inputs.draining()) reasons.push("draining");
  if (!inputs.natsConnected()) reasons.push("nats_disconnected");
  if (!inputs.keysLoaded()) reasons.push("keys_not_loaded");
  if (!inputs.streamReady()) reasons.push("stream_not_ready");
  return reasons.length === 0 ? { ready: true } : { ready: false, reasons };
}
