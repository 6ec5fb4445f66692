/**
 * "Load earlier": history over HTTP (README.md, "History over HTTP": `GET /v1/events`, bearer
 * credential, `after=<epoch>:<seq>` exclusive, oldest first, `next` cursor). The endpoint pages
 * forwards only, so going back from the oldest event shown means asking for ranges below it:
 * (oldest - span, oldest), then a four times larger span further down, until enough events came
 * back, the stream starts, or a page budget is spent.
 */
import type { HistoryPage, SmsEvent } from "../client/index.js";

/** One page: `after`/`since`, `limit` and the filter's parameters. */
export type FetchPage = (params: URLSearchParams) => Promise<HistoryPage>;

export interface EarlierOptions {
  /** Stream incarnation of the events shown; undefined: none with a seq yet. */
  epoch: string | undefined;
  /** Sequence of the oldest event shown; undefined: ask for the newest events. */
  beforeSeq: number | undefined;
  /** How many events to aim for. */
  want: number;
  /** Most pages to fetch for one click. */
  maxPages?: number;
}

const MAX_LIMIT = 1000;
const FIRST_SPAN = 256;

/** Events older than `beforeSeq`, oldest first (at most `want`: the newest of them). */
export async function loadEarlier(fetchPage: FetchPage, options: EarlierOptions): Promise<SmsEvent[]> {
  const { epoch, beforeSeq, want } = options;
  if (epoch === undefined || beforeSeq === undefined) {
    return (await fetchPage(new URLSearchParams({ limit: String(Math.min(want, MAX_LIMIT)) }))).events;
  }
  let budget = options.maxPages ?? 20;
  let collected: SmsEvent[] = [];
  let upper = beforeSeq; // exclusive
  let span = FIRST_SPAN;
  while (collected.length < want && upper > 1 && budget > 0) {
    const from = Math.max(0, upper - span);
    const range: SmsEvent[] = [];
    let after = `${epoch}:${from}`;
    for (;;) {
      budget--;
      const page = await fetchPage(new URLSearchParams({ after, limit: String(MAX_LIMIT) }));
      const inRange = page.events.filter((e) => e.seq !== undefined && e.seq < upper);
      range.push(...inRange);
      const done = inRange.length < page.events.length || page.next === null || page.events.length === 0 || budget <= 0;
      if (done) break;
      after = page.next as string;
    }
    collected = [...range, ...collected];
    upper = from + 1; // the next range ends at `from` inclusive
    span *= 4;
  }
  return collected.slice(Math.max(0, collected.length - want));
}
