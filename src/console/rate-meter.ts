/** Events per second over the last minutes: one counter per second in a ring. */
export class RateMeter {
  readonly seconds: number;
  readonly #counts: number[];
  /** The second (ms since the epoch / 1000, floored) that the newest slot counts. */
  #newest: number;
  readonly #now: () => number;

  constructor(seconds = 300, now: () => number = Date.now) {
    this.seconds = seconds;
    this.#counts = new Array<number>(seconds).fill(0);
    this.#now = now;
    this.#newest = Math.floor(now() / 1000);
  }

  record(count = 1): void {
    this.#advance();
    this.#counts[this.#newest % this.seconds] = (this.#counts[this.#newest % this.seconds] ?? 0) + count;
  }

  /** Per-second counts, oldest first, the last one being the current (partial) second. */
  series(): number[] {
    this.#advance();
    return Array.from({ length: this.seconds }, (_, i) => this.#counts[(this.#newest - this.seconds + 1 + i) % this.seconds] ?? 0);
  }

  /** Events in the last complete second. */
  lastSecond(): number {
    const s = this.series();
    return s[s.length - 2] ?? 0;
  }

  /** Average per second over the last `window` complete seconds. */
  average(window = 60): number {
    const complete = this.series().slice(0, -1);
    const recent = complete.slice(-window);
    return recent.reduce((a, b) => a + b, 0) / recent.length;
  }

  #advance(): void {
    const second = Math.floor(this.#now() / 1000);
    if (second <= this.#newest) return;
    const steps = Math.min(second - this.#newest, this.seconds);
    for (let i = 1; i <= steps; i++) this.#counts[(this.#newest + i) % this.seconds] = 0;
    this.#newest = second;
  }
}
