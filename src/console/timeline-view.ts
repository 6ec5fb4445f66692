/** One message's events in time order, with the time between consecutive ones. */
import type { TimelineStep } from "./event-store.js";
import { el, formatGap, statusChip, timeElement } from "./dom.js";

export function renderTimeline(list: HTMLOListElement, summary: HTMLElement, messageId: string, steps: readonly TimelineStep[]): void {
  list.replaceChildren(
    ...steps.map(({ event, sincePreviousMs }) => {
      const what =
        event.type === "sms_status"
          ? statusChip(event.status)
          : el("span", { text: `inbound from ${event.from} to ${event.to}` });
      const item = el("li", { attrs: { "data-event-id": event.eventId } }, what, document.createTextNode(" "), timeElement(event.timestamp));
      if (sincePreviousMs !== undefined) item.append(" ", el("span", { className: "gap", text: formatGap(sincePreviousMs) }));
      const detail = event.type === "sms_status" ? event.error : event.body;
      if (detail) item.append(el("p", { className: "detail", text: detail }));
      return item;
    }),
  );
  const first = steps[0]?.event;
  const last = steps[steps.length - 1]?.event;
  if (first === undefined || last === undefined) {
    summary.textContent = `Message ${messageId}: no events seen yet.`;
    return;
  }
  const total = Date.parse(last.timestamp) - Date.parse(first.timestamp);
  const label = (e: typeof first): string => (e.type === "sms_status" ? e.status : "inbound");
  summary.textContent =
    steps.length === 1
      ? `Message ${messageId}: ${label(first)}.`
      : `Message ${messageId}: ${label(first)} → ${label(last)} in ${Number.isFinite(total) ? formatGap(total).slice(1) : "?"}, ${steps.length} events.`;
}
