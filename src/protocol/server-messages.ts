/** Frames the node sends besides events. Constant frames are encoded once. */

export const PING_FRAME = JSON.stringify({ type: "ping" });

export function authOkFrame(epoch: string | undefined): string {
  return epoch === undefined ? JSON.stringify({ type: "auth_ok" }) : JSON.stringify({ type: "auth_ok", epoch });
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
