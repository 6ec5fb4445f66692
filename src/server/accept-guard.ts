/**
 * The descriptor budget of the listener. uWS accepts connections in native code; once the process
 * reaches RLIMIT_NOFILE, accept() fails with EMFILE, the listen socket stays readable and the
 * event loop spins at 100 % CPU until descriptors free up (security-probe V-5: 1 200 silent
 * connections filled a 1 024-descriptor node). So the node watches its open descriptors against
 * the limit: at the high-water mark it closes its listen socket (the kernel refuses new
 * connections; open sockets keep working; /readyz is unreachable, so the load balancer sends new
 * clients elsewhere), and below the low-water mark, after a backoff, it listens again. Connections
 * that never finish a request are dropped by uWS after its HTTP idle timeout (about 10 s), which
 * is what brings the count down.
 *
 * The policy (AcceptGuard) is plain code over two narrow ports, the descriptor probe and the
 * listener; processDescriptors() is the Linux probe (/proc), undefined elsewhere.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";

/** Pause at this share of RLIMIT_NOFILE: the rest stays free for NATS, metrics scrapes and logs. */
export const ACCEPT_PAUSE_AT = 0.9;
/** Listen again at or below this share. */
export const ACCEPT_RESUME_AT = 0.7;
/** First wait between a pause and the next listen; doubles when pauses follow each other. */
export const ACCEPT_BACKOFF_MIN_MS = 1000;
export const ACCEPT_BACKOFF_MAX_MS = 16_000;
/** A pause this long after the last resume starts the backoff again from the minimum. */
const BACKOFF_RESET_MS = 60_000;

export interface DescriptorProbe {
  /** RLIMIT_NOFILE (soft) of this process. */
  readonly limit: number;
  /** Descriptors open now; `limit` when the process cannot even look (EMFILE). */
  open(): number;
  /** How often open() may be called: it costs one stat(2), or a directory read on old kernels. */
  readonly intervalMs: number;
}

/** The listen socket, as the guard needs it. */
export interface Listener {
  pause(): void;
  /** Listen again; false if the port could not be bound (the guard retries on its next check). */
  resume(): Promise<boolean>;
}

export interface GuardEvents {
  sampled(open: number): void;
  paused(open: number, limit: number): void;
  resumed(open: number, pausedMs: number): void;
  resumeFailed(open: number): void;
}

export class AcceptGuard {
  readonly #high: number;
  readonly #low: number;
  #paused = false;
  #resuming = false;
  #pausedAt = 0;
  #resumedAt = Number.NEGATIVE_INFINITY;
  #backoffMs = ACCEPT_BACKOFF_MIN_MS;

  constructor(
    private readonly probe: DescriptorProbe,
    private readonly listener: Listener,
    private readonly events: GuardEvents,
    private readonly now: () => number = Date.now,
  ) {
    this.#high = Math.floor(probe.limit * ACCEPT_PAUSE_AT);
    this.#low = Math.floor(probe.limit * ACCEPT_RESUME_AT);
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** One look at the budget: pause, resume or nothing. */
  async check(): Promise<void> {
    const open = this.probe.open();
    this.events.sampled(open);
    const now = this.now();
    if (!this.#paused) {
      if (open < this.#high) return;
      this.#backoffMs = now - this.#resumedAt < BACKOFF_RESET_MS ? Math.min(this.#backoffMs * 2, ACCEPT_BACKOFF_MAX_MS) : ACCEPT_BACKOFF_MIN_MS;
      this.#paused = true;
      this.#pausedAt = now;
      this.listener.pause();
      this.events.paused(open, this.probe.limit);
      return;
    }
    if (this.#resuming || open > this.#low || now - this.#pausedAt < this.#backoffMs) return;
    this.#resuming = true;
    try {
      if (!(await this.listener.resume())) {
        this.events.resumeFailed(open);
        return;
      }
      this.#paused = false;
      this.#resumedAt = this.now();
      this.events.resumed(open, this.#resumedAt - this.#pausedAt);
    } finally {
      this.#resuming = false;
    }
  }
}

/**
 * This process's descriptors on Linux: the soft RLIMIT_NOFILE from /proc/self/limits (read once,
 * at start, while a descriptor is still free), and the open count from stat(2) of /proc/self/fd,
 * whose size is the count since Linux 6.2 and which needs no descriptor of its own. On older
 * kernels the size is 0 and the directory is read instead (one descriptor, so EMFILE there means
 * full). Undefined where /proc is missing or the limit is unlimited: the guard is then off.
 */
export function processDescriptors(): DescriptorProbe | undefined {
  let limit: number;
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    limit = Number(line?.split(/\s+/)[3]);
  } catch {
    return undefined;
  }
  if (!Number.isSafeInteger(limit) || limit <= 0) return undefined;
  const bySize = (): number => statSync("/proc/self/fd").size;
  if (bySize() > 0) return { limit, intervalMs: 100, open: bySize };
  return {
    limit,
    // A directory read costs time per descriptor: look less often.
    intervalMs: 1000,
    open: () => {
      try {
        return readdirSync("/proc/self/fd").length;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EMFILE" || (err as NodeJS.ErrnoException).code === "ENFILE") return limit;
        throw err;
      }
    },
  };
}
