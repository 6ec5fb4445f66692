/**
 * The audit trail: one info line per authentication outcome and per refused upgrade, with the
 * client address and at most a hash prefix (never a key, a token or a body). Under a flood the
 * lines are sampled: at most AUDIT_LINES_PER_S a second, then one line saying how many were left
 * out, so an attack cannot drown the logs (or the disk) while it stays visible.
 */
import type { Logger } from "pino";

const AUDIT_LINES_PER_S = 50;

export class AuditLog {
  #second = 0;
  #written = 0;
  #suppressed = 0;

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  write(fields: Record<string, unknown>, message: string): void {
    const second = Math.floor(this.now() / 1000);
    if (second !== this.#second) {
      if (this.#suppressed > 0) this.log.info({ audit: true, suppressed: this.#suppressed }, "audit lines left out under load");
      this.#second = second;
      this.#written = 0;
      this.#suppressed = 0;
    }
    if (this.#written >= AUDIT_LINES_PER_S) {
      this.#suppressed++;
      return;
    }
    this.#written++;
    this.log.info({ audit: true, ...fields }, message);
  }
}
