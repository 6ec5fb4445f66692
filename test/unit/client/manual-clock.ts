/**
 * A clock the test moves by hand, for timers measured in minutes (token refresh). Timers up to
 * `realBelowMs` (reconnect backoff in these tests) run on real timers so sockets behave as
 * usual; longer ones wait until advance() passes their due time.
 */
import type { Timers } from "../../../src/client/index.js";

interface Held {
  id: number;
  dueAt: number;
  callback: () => void;
}

export class ManualClock implements Timers {
  #nowMs: number;
  #nextId = 1;
  readonly #held = new Map<number, Held>();
  readonly #real = new Map<number, ReturnType<typeof setTimeout>>();

  constructor(
    startMs: number,
    private readonly realBelowMs = 100,
  ) {
    this.#nowMs = startMs;
  }

  readonly now = (): number => this.#nowMs;

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.#nextId++;
    if (ms < this.realBelowMs) {
      this.#real.set(
        id,
        setTimeout(() => {
          this.#real.delete(id);
          callback();
        }, ms),
      );
    } else {
      this.#held.set(id, { id, dueAt: this.#nowMs + ms, callback });
    }
    return id;
  }

  clearTimeout(handle: unknown): void {
    const id = handle as number;
    this.#held.delete(id);
    const real = this.#real.get(id);
    if (real !== undefined) clearTimeout(real);
    this.#real.delete(id);
  }

  /** Moves the clock forward, firing the held timers that fall due, in order. */
  advance(ms: number): void {
    const target = this.#nowMs + ms;
    for (;;) {
      const due = [...this.#held.values()].filter((t) => t.dueAt <= target).sort((a, b) => a.dueAt - b.dueAt || a.id - b.id)[0];
      if (due === undefined) break;
      this.#held.delete(due.id);
      this.#nowMs = due.dueAt;
      due.callback();
    }
    this.#nowMs = target;
  }

  /** Due times of the held timers, relative to now (ms). */
  heldDelays(): number[] {
    return [...this.#held.values()].map((t) => t.dueAt - this.#nowMs).sort((a, b) => a - b);
  }

  get pending(): number {
    return this.#held.size + this.#real.size;
  }
}
