/** Frames the node sends besides events. Constant frames are encoded once. */

export const PING_FRAME = JSON.stringify({ type: "ping" });

/**
 * `epoch` when the node has a stream; `exp` (unix seconds) for a socket authenticated with a token;
 * `epochs` (one per partition, in partition order) for an admin socket with STREAM_PARTITIONS > 1.
 */
export function authOkFrame(epoch: string | undefined, exp?: number, epochs?: readonly string[]): string {
  return JSON.stringify({
    type: "auth_ok",
    ...(epoch === undefined ? {} : { epoch }),
    ...(epochs === undefined ? {} : { epochs }),
    ...(exp === undefined ? {} : { exp }),
  });
}

export function refreshOkFrame(exp: number): string {
  return JSON.stringify({ type: "refresh_ok", exp });
}

export function authErrorFrame(error: string): string {
  return JSON.stringify({ type: "auth_error", error });
}

export function resumedFrame(replayed: number): string {
  return JSON.stringify({ type: "resumed", replayed });
}

export type ResumeFailure = "retention" | "epoch" | "limit" | "unavailable";

export function resumeFailedFrame(reason: ResumeFailure): string {
  return JSON.stringify({ type: "resume_failed", reason });
}

/** The socket's watched-id count after a watch or unwatch; `ignored`: ids not added (ceiling, limits). */
export function watchOkFrame(count: number, ignored: number): string {
  return JSON.stringify({ type: "watch_ok", count, ...(ignored === 0 ? {} : { ignored }) });
}
