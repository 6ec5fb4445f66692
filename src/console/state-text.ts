/** The connection state in words, for the aria-live line and the connection log. */
import type { ResumeFailure, ResumeSuccess, StateChange } from "../client/index.js";

export function describeState(change: StateChange): string {
  const close = change.closeCode === undefined ? "" : ` (close ${change.closeCode}${change.closeReason ? `: ${change.closeReason}` : ""})`;
  switch (change.state) {
    case "connecting":
      return "connecting…";
    case "authenticating":
      return "authenticating…";
    case "resuming":
      return "resuming…";
    case "live":
      return "live";
    case "reconnecting": {
      const hint = change.closeCode === 4419 ? "; the token expired: paste a fresh one and connect" : "";
      return `reconnecting in ${((change.delayMs ?? 0) / 1000).toFixed(1)} s, attempt ${change.attempt ?? 1}${close}${hint}`;
    }
    case "closed":
      if (change.error !== undefined) return `closed${close}: ${change.error.message}`;
      return `closed${close}`;
  }
}

export function describeResumed(resumed: ResumeSuccess): string {
  const after = resumed.from ? `seq ${resumed.from.seq}` : `${resumed.positions?.length ?? 0} partition positions`;
  return `live, resumed after ${after} (${resumed.replayed} replayed)`;
}

export function describeResumeFailed(failure: ResumeFailure): string {
  return `live, resume failed (${failure.reason}): events may be missing; "Load earlier" fetches them`;
}
