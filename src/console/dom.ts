/**
 * The console's only way to put data on the page: text nodes. Event fields come from SMS
 * senders and carriers; nothing here ever parses a string as HTML.
 */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element as T;
}

export interface ElementProps {
  className?: string;
  text?: string;
  attrs?: Record<string, string>;
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: ElementProps = {}, ...children: Node[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (props.className !== undefined) element.className = props.className;
  if (props.text !== undefined) element.textContent = props.text;
  for (const [name, value] of Object.entries(props.attrs ?? {})) element.setAttribute(name, value);
  for (const child of children) element.append(child);
  return element;
}

/** `12:00:01.250` (UTC, like the server's logs), or the raw text when it is not a date. */
export function clockTime(timestamp: string): string {
  const ms = Date.parse(timestamp);
  return Number.isNaN(ms) ? timestamp : new Date(ms).toISOString().slice(11, 23);
}

export function timeElement(timestamp: string): HTMLTimeElement {
  return el("time", { text: clockTime(timestamp), attrs: { datetime: timestamp, title: timestamp } });
}

/** `+850 ms`, `+1.2 s`, `+3 min 5 s`. */
export function formatGap(ms: number): string {
  const sign = ms < 0 ? "-" : "+";
  const abs = Math.abs(ms);
  if (abs < 1000) return `${sign}${Math.round(abs)} ms`;
  if (abs < 60_000) return `${sign}${(abs / 1000).toFixed(1)} s`;
  const minutes = Math.floor(abs / 60_000);
  return `${sign}${minutes} min ${Math.round((abs - minutes * 60_000) / 1000)} s`;
}

const KNOWN_STATUSES = new Set(["queued", "sending", "sent", "delivered", "failed", "undelivered"]);

/** A status as a labelled chip; the class comes from a fixed list, never from the data. */
export function statusChip(status: string): HTMLSpanElement {
  const kind = KNOWN_STATUSES.has(status) ? status : "other";
  return el("span", { className: `status status-${kind}`, text: status });
}
