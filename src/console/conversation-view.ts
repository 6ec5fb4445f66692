/**
 * Inbound messages as conversations, one per sending number. The list of numbers is updated
 * in place (a new number is added on top, counts change) so keyboard focus is never lost.
 */
import type { SmsInboundEvent } from "../client/index.js";
import { el, timeElement } from "./dom.js";

export class ConversationView {
  readonly #numbers: HTMLUListElement;
  readonly #messages: HTMLOListElement;
  readonly #heading: HTMLElement;
  readonly #buttons = new Map<string, HTMLButtonElement>();
  readonly #onSelect: (number: string) => void;
  #selected: string | undefined;

  /** `onSelect`: what choosing a number does (the app shows its conversation). */
  constructor(numbers: HTMLUListElement, messages: HTMLOListElement, heading: HTMLElement, onSelect: (number: string) => void) {
    this.#numbers = numbers;
    this.#messages = messages;
    this.#heading = heading;
    this.#onSelect = onSelect;
  }

  get selected(): string | undefined {
    return this.#selected;
  }

  /** A number's count changed (or it is new). */
  updateNumber(number: string, count: number): void {
    let button = this.#buttons.get(number);
    if (button === undefined) {
      button = el("button", { attrs: { type: "button", "aria-pressed": "false", "data-number": number } });
      button.addEventListener("click", () => this.#onSelect(number));
      this.#buttons.set(number, button);
      this.#numbers.insertBefore(el("li", {}, button), this.#numbers.firstChild);
    }
    button.textContent = `${number} (${count})`;
  }

  show(number: string, messages: readonly SmsInboundEvent[]): void {
    this.#selected = number;
    for (const [n, b] of this.#buttons) b.setAttribute("aria-pressed", String(n === number));
    this.#heading.textContent = `Messages from ${number}`;
    this.#messages.replaceChildren(
      ...messages.map((m) =>
        el(
          "li",
          { className: "bubble", attrs: { "data-event-id": m.eventId } },
          el("p", { className: "meta" }, timeElement(m.timestamp), document.createTextNode(` to ${m.to}`)),
          el("p", { className: "body", text: m.body }),
        ),
      ),
    );
  }

  clear(): void {
    this.#selected = undefined;
    this.#buttons.clear();
    this.#numbers.replaceChildren();
    this.#messages.replaceChildren();
    this.#heading.textContent = "No conversation chosen";
  }
}
