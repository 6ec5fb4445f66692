/** The live feed table: newest on top, earlier pages below, one row per event id. */
import type { SmsEvent } from "../client/index.js";
import { el, statusChip, timeElement } from "./dom.js";

const DETAIL_MAX = 160;

export class FeedView {
  readonly #body: HTMLTableSectionElement;
  readonly #rows = new Map<string, HTMLTableRowElement>();
  readonly #onSelectMessage: (messageId: string) => void;

  constructor(body: HTMLTableSectionElement, onSelectMessage: (messageId: string) => void) {
    this.#body = body;
    this.#onSelectMessage = onSelectMessage;
  }

  /** Newer events, oldest first: each goes on top. */
  prependNewer(events: readonly SmsEvent[]): void {
    for (const event of events) this.#body.insertBefore(this.#row(event), this.#body.firstChild);
  }

  /** Earlier events, oldest first: they go below the rows shown, newest of them first. */
  appendOlder(events: readonly SmsEvent[]): void {
    for (let i = events.length - 1; i >= 0; i--) this.#body.append(this.#row(events[i] as SmsEvent));
  }

  remove(events: readonly SmsEvent[]): void {
    for (const event of events) {
      this.#rows.get(event.eventId)?.remove();
      this.#rows.delete(event.eventId);
    }
  }

  clear(): void {
    this.#body.replaceChildren();
    this.#rows.clear();
  }

  #row(event: SmsEvent): HTMLTableRowElement {
    const select = el("button", {
      className: "link",
      text: event.messageId,
      attrs: { type: "button", "aria-label": `Timeline of message ${event.messageId}` },
    });
    select.addEventListener("click", () => this.#onSelectMessage(event.messageId));
    const what = event.type === "sms_status" ? statusChip(event.status) : el("span", { text: `${event.from} → ${event.to}` });
    const detail = event.type === "sms_status" ? (event.error ?? "") : event.body;
    const shown = detail.length > DETAIL_MAX ? `${detail.slice(0, DETAIL_MAX)}…` : detail;
    const row = el(
      "tr",
      { attrs: { "data-event-id": event.eventId, "data-message-id": event.messageId, "data-type": event.type } },
      el("td", {}, timeElement(event.timestamp)),
      el("td", { text: event.type === "sms_status" ? "status" : "inbound" }),
      el("td", {}, select),
      el("td", {}, what),
      el("td", { className: "detail", text: shown, attrs: detail === shown ? {} : { title: detail } }),
      el("td", { className: "num", text: event.seq === undefined ? "" : String(event.seq) }),
    );
    this.#rows.set(event.eventId, row);
    return row;
  }
}
