/**
 * Wait for a condition that no event announces (a server-side count, a metric, a NATS-side
 * subscription): check it every `everyMs` until it holds, and fail after `timeoutMs`.
 */
export async function pollUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = "condition",
  everyMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
