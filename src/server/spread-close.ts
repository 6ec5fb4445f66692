/**
 * The drain's close, spread evenly over a window (like NATS's lame-duck mode): the other nodes
 * see a steady trickle of reconnects, not a stampede. Shared by sockets and SSE streams.
 */

/** The close takes a slice of the items every tick. */
const DRAIN_TICK_MS = 10;

/** Close every item over windowMs; resolves when all are closed. */
export function closeSpread<T>(items: readonly T[], windowMs: number, close: (item: T) => void): Promise<void> {
  if (items.length === 0) return Promise.resolve();
  const ticks = Math.max(1, Math.floor(windowMs / DRAIN_TICK_MS));
  const perTick = Math.ceil(items.length / ticks);
  return new Promise((resolve) => {
    let next = 0;
    const step = (): void => {
      const end = Math.min(items.length, next + perTick);
      for (; next < end; next++) close(items[next] as T);
      if (next >= items.length) resolve();
      else setTimeout(step, DRAIN_TICK_MS);
    };
    step();
  });
}
