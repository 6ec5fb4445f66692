// Paces event emission for the publishers (bench/lib/publisher.mjs and the uws-ceiling peer).
// Two shapes: a steady `rate` (events/s) for `secs`, sent in groups of `burst` events; or
// `bursts` groups of `burst` events spaced `gapMs` apart. Timers have ~1 ms granularity, so at
// high rates several events leave per tick. Each event carries its real send time (see eventJson),
// so a late tick shows up as latency, not as a hidden delay.

/** `ready` (optional): a function returning a promise the pacing awaits before each tick (a publisher's window). */
export function pace(plan, emit, ready = undefined) {
  const { rate = 0, secs = 0, burst = 1, bursts = 0, gapMs = 1000 } = plan;
  const total = bursts > 0 ? bursts * burst : Math.max(1, Math.round(rate * secs));
  const start = performance.now();
  let sent = 0;
  return new Promise((resolve, reject) => {
    const tick = () => {
      try {
        const elapsed = performance.now() - start;
        const due =
          bursts > 0
            ? Math.min(total, (Math.floor(elapsed / gapMs) + 1) * burst)
            : Math.min(total, (Math.floor((elapsed * rate) / 1000 / burst) + 1) * burst);
        while (sent < due) {
          const n = Math.min(burst, due - sent);
          emit(sent, n);
          sent += n;
        }
        if (sent >= total) resolve({ sent, secs: (performance.now() - start) / 1000 });
        else if (ready) ready().then(() => setTimeout(tick, 1), reject);
        else setTimeout(tick, 1);
      } catch (err) {
        reject(err);
      }
    };
    tick();
  });
}

/** Epoch microseconds from the monotonic clock anchored at process start (Date.now() has ms only). */
export function epochMicros() {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** Statuses and message ids of the `filtered` scenario's mixed events (`round` = n / scopes). */
export const MIX_STATUSES = ['sent', 'delivered', 'queued', 'failed'];
export const MIX_MESSAGES = 8;
export function mixOf(round) {
  return { status: MIX_STATUSES[round % MIX_STATUSES.length], messageId: `m${round % MIX_MESSAGES}` };
}

/**
 * The event every peer delivers; `bt_<epoch us>` is the marker the load generator reads. With
 * `round` (the filtered scenario) the status and message id vary (mixOf), so the marker moves
 * to eventId.
 */
export function eventObject(tenantId, appId, n, us = epochMicros(), round = undefined) {
  if (round !== undefined) {
    const { status, messageId } = mixOf(round);
    return { type: 'sms_status', eventId: `bt_${us}_${n}`, messageId, appId, tenantId, status, timestamp: new Date(Math.floor(us / 1000)).toISOString() };
  }
  return {
    type: 'sms_status',
    eventId: `e${us}_${n}`,
    messageId: `bt_${us}_${n}`,
    appId,
    tenantId,
    status: 'sent',
    timestamp: new Date(Math.floor(us / 1000)).toISOString(),
  };
}
