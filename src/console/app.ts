/**
 * The developer console (README.md, "Developer console"): connects with the SDK bundle the
 * node serves beside this file, shows the connection state, events per second, the live feed
 * with server-side filters and "load earlier", one message's timeline and inbound
 * conversations. Plain DOM, no framework; every event field reaches the page as text only.
 */
import { createClient, type ClientOptions, type SmsEvent, type SmsWsClient } from "../client/index.js";
import { ConversationView } from "./conversation-view.js";
import { byId } from "./dom.js";
import { EventStore } from "./event-store.js";
import { FeedView } from "./feed-view.js";
import { describeFilter, makeFilter, splitList, type ConsoleFilter, type EventType } from "./filter.js";
import { defaultSocketUrl, parseFragment, sameOriginSocketUrl } from "./fragment.js";
import { loadEarlier, type FetchPage } from "./history.js";
import { RateMeter } from "./rate-meter.js";
import { drawSparkline } from "./sparkline.js";
import { describeResumed, describeResumeFailed, describeState } from "./state-text.js";
import { renderTimeline } from "./timeline-view.js";

const EARLIER_PAGE = 100;
const LOG_MAX = 50;

type CredentialKind = "token" | "key";

interface Session {
  readonly client: SmsWsClient;
  readonly url: string;
  readonly kind: CredentialKind;
  readonly credential: string;
  readonly filter: ConsoleFilter | undefined;
}

/** What a merged SDK may offer (history over HTTP); used when present, else fetch() here. */
const form = byId<HTMLFormElement>("connect-form");
const urlInput = byId<HTMLInputElement>("url");
const credentialInput = byId<HTMLInputElement>("credential");
const disconnectButton = byId<HTMLButtonElement>("disconnect");
const stateLine = byId("state");
const stateLog = byId<HTMLOListElement>("state-log");
const rateCanvas = byId<HTMLCanvasElement>("rate-chart");
const rateText = byId("rate-text");
const filterForm = byId<HTMLFormElement>("filter-form");
const filterSummary = byId("filter-summary");
const eventCount = byId("event-count");
const earlierButton = byId<HTMLButtonElement>("load-earlier");
const historyStatus = byId("history-status");
const timelineHeading = byId("timeline-heading");
const timelineList = byId<HTMLOListElement>("timeline");
const timelineSummary = byId("timeline-summary");

const store = new EventStore();
const rate = new RateMeter(300);
const feed = new FeedView(byId<HTMLTableSectionElement>("feed-body"), selectMessage);
const conversations = new ConversationView(
  byId<HTMLUListElement>("numbers"),
  byId<HTMLOListElement>("conversation"),
  byId("conversation-heading"),
  (number) => conversations.show(number, store.conversation(number)),
);
let session: Session | undefined;
let selectedMessage: string | undefined;

// ---- connection ------------------------------------------------------------------------------

function connect(): void {
  disconnect();
  clearViews();
  const kind = (new FormData(form).get("kind") === "key" ? "key" : "token") satisfies CredentialKind;
  const credential = credentialInput.value.trim();
  const url = urlInput.value.trim();
  const filter = currentFilter();
  // `filter` goes to the server in the auth message (SDK option); a node without server-side
  // filters ignores it and sends the whole scope.
  const options: ClientOptions & { filter?: ConsoleFilter } = {
    url,
    ...(kind === "key" ? { apiKey: credential } : { getToken: () => credential }),
    ...(filter === undefined ? {} : { filter }),
    reconnect: { initialDelayMs: 250, maxDelayMs: 5000 },
  };
  let client: SmsWsClient;
  try {
    client = createClient(options);
  } catch (error) {
    setState("closed", `cannot connect: ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  session = { client, url, kind, credential, filter };
  disconnectButton.disabled = false;
  filterSummary.textContent = `Server-side filter: ${describeFilter(filter)}.`;
  // The SDK reports how a resume went just before it goes live: the note stays on the state
  // line while live, and goes when the socket does.
  let resumeNote: { text: string; outcome: "resumed" | "failed" } | undefined;
  client.on("resumed", (resumed) => (resumeNote = { text: describeResumed(resumed), outcome: "resumed" }));
  client.on("resumeFailed", (failure) => (resumeNote = { text: describeResumeFailed(failure), outcome: "failed" }));
  client.on("state", (change) => {
    if (change.state === "live" && resumeNote !== undefined) setState("live", resumeNote.text, resumeNote.outcome);
    else setState(change.state, describeState(change));
    if (change.state !== "live") resumeNote = undefined;
  });
  client.on("error", (error) => {
    if (!error.fatal) log(`error ${error.code}: ${error.message}`);
  });
  client.on("event", (event) => onNewer(event));
  setState(client.state, describeState({ state: client.state, previous: client.state }));
}

function disconnect(): void {
  const current = session;
  session = undefined;
  current?.client.close();
  disconnectButton.disabled = true;
}

function setState(state: string, text: string, resume?: "resumed" | "failed"): void {
  stateLine.dataset.state = state;
  if (resume !== undefined) stateLine.dataset.resume = resume;
  else if (state !== "live") delete stateLine.dataset.resume;
  stateLine.textContent = text;
  log(text);
}

function log(text: string): void {
  const item = document.createElement("li");
  item.textContent = `${new Date().toISOString().slice(11, 23)} ${text}`;
  stateLog.insertBefore(item, stateLog.firstChild);
  while (stateLog.children.length > LOG_MAX) stateLog.lastElementChild?.remove();
}

// ---- events --------------------------------------------------------------------------------

function onNewer(event: SmsEvent): void {
  rate.record();
  const { added, evicted } = store.addNewer([event]);
  feed.remove(evicted);
  feed.prependNewer(added);
  afterChange(added);
}

function afterChange(added: readonly SmsEvent[]): void {
  eventCount.textContent = `${store.size} events`;
  for (const event of added) {
    if (event.messageId === selectedMessage) showTimeline(event.messageId);
    if (event.type === "sms_inbound") {
      conversations.updateNumber(event.from, store.conversation(event.from).length);
      if (conversations.selected === event.from) conversations.show(event.from, store.conversation(event.from));
    }
  }
}

function selectMessage(messageId: string): void {
  selectedMessage = messageId;
  showTimeline(messageId);
  timelineHeading.focus();
}

function showTimeline(messageId: string): void {
  timelineHeading.textContent = `Timeline of ${messageId}`;
  renderTimeline(timelineList, timelineSummary, messageId, store.timeline(messageId));
}

function clearViews(): void {
  store.clear();
  feed.clear();
  conversations.clear();
  selectedMessage = undefined;
  timelineHeading.textContent = "Message timeline";
  timelineList.replaceChildren();
  timelineSummary.textContent = "Choose a message id in the feed.";
  eventCount.textContent = "0 events";
  historyStatus.textContent = "";
}

// ---- filter and history --------------------------------------------------------------------

function currentFilter(): ConsoleFilter | undefined {
  const data = new FormData(filterForm);
  const types = data.getAll("type").map(String) as EventType[];
  const statuses = data.getAll("status").map(String);
  return makeFilter(types, statuses, splitList(String(data.get("messageIds") ?? "")));
}

/** One page of history through the SDK (GET /v1/events with the session's credential and filter). */
function pages(s: Session): FetchPage {
  return (params) => {
    const after = params.get("after");
    const limit = params.get("limit");
    return s.client.history({
      ...(after === null ? {} : { after }),
      ...(limit === null ? {} : { limit: Number(limit) }),
      ...(s.filter === undefined ? {} : { filter: s.filter }),
    });
  };
}

async function onLoadEarlier(): Promise<void> {
  const s = session;
  if (s === undefined) {
    historyStatus.textContent = "Connect first.";
    return;
  }
  if (store.room === 0) {
    historyStatus.textContent = `The console keeps at most ${store.size} events.`;
    return;
  }
  earlierButton.disabled = true;
  historyStatus.textContent = "Loading earlier events…";
  try {
    const oldest = store.oldest();
    const events = await loadEarlier(pages(s), {
      epoch: s.client.epoch,
      beforeSeq: oldest === undefined ? undefined : oldest.seq,
      want: Math.min(EARLIER_PAGE, store.room),
    });
    if (session !== s) return;
    const { added } = store.addOlder(events);
    feed.appendOlder(added);
    afterChange(added);
    historyStatus.textContent = added.length === 0 ? "No earlier events." : `Loaded ${added.length} earlier events.`;
  } catch (error) {
    historyStatus.textContent = `Could not load earlier events: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    earlierButton.disabled = false;
  }
}

// ---- wiring --------------------------------------------------------------------------------

function tick(): void {
  const series = rate.series();
  drawSparkline(rateCanvas, series);
  const text = `${rate.lastSecond()} events in the last second; ${rate.average(60).toFixed(2)}/s over the last minute`;
  rateText.textContent = text;
  rateCanvas.setAttribute("aria-label", `Events per second over the last ${rate.seconds / 60} minutes: ${text}`);
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  connect();
});
disconnectButton.addEventListener("click", () => {
  disconnect();
});
filterForm.addEventListener("submit", (e) => {
  e.preventDefault();
  // A new filter is a new subscription: the server applies it at authentication.
  if (credentialInput.value.trim() !== "") connect();
  else filterSummary.textContent = `Server-side filter: ${describeFilter(currentFilter())} (applies when you connect).`;
});
earlierButton.addEventListener("click", () => void onLoadEarlier());
addEventListener("pagehide", () => disconnect());

const fragment = parseFragment(location.hash);
// The fragment may hold a credential: read once, then gone from the address bar and history.
if (location.hash !== "") history.replaceState(null, "", location.pathname + location.search);
// Only this page's own origin: a foreign `#url=` is ignored (fragment.ts).
urlInput.value = (fragment.url === undefined ? undefined : sameOriginSocketUrl(fragment.url, location)) ?? defaultSocketUrl(location);
const preset = fragment.token !== undefined ? ({ kind: "token", value: fragment.token } as const) : fragment.key !== undefined ? ({ kind: "key", value: fragment.key } as const) : undefined;
if (preset !== undefined) {
  byId<HTMLInputElement>(`kind-${preset.kind}`).checked = true;
  credentialInput.value = preset.value;
}
clearViews();
tick();
setInterval(tick, 1000);
if (preset !== undefined) connect();
