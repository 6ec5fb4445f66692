/** Permission violations nats-server reports on a connection (nats.js status errors), awaitable. */
import { errors, type NatsConnection } from "@nats-io/transport-node";

type PermissionViolation = InstanceType<typeof errors.PermissionViolationError>;

/** Permission violations the server reported on a connection, awaitable by subject. */
export class Violations {
  readonly seen: PermissionViolation[] = [];
  readonly #waiters: { match: (e: PermissionViolation) => boolean; resolve: (e: PermissionViolation) => void }[] = [];

  constructor(nc: NatsConnection) {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type !== "error" || !(s.error instanceof errors.PermissionViolationError)) continue;
        const e = s.error;
        this.seen.push(e);
        for (const w of [...this.#waiters]) {
          if (w.match(e)) {
            this.#waiters.splice(this.#waiters.indexOf(w), 1);
            w.resolve(e);
          }
        }
      }
    })();
  }

  /** The server's refusal of a publish to (or subscription on) this subject. */
  next(operation: "publish" | "subscription", subject: string): Promise<PermissionViolation> {
    const match = (e: PermissionViolation) => e.operation === operation && e.subject === subject;
    const already = this.seen.find(match);
    if (already) return Promise.resolve(already);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }
}

