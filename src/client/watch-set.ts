/**
 * The messages a client follows (server-side filter `messageIds`; README.md, "Filters and watches"), kept across
 * sockets: every new socket authenticates with the current set, the first ids in the auth
 * filter and the rest as watch frames sent right behind it (the server applies them in order,
 * before any replay and before the socket goes live, so reconnects and resumes miss nothing).
 */

/** What the server may narrow a socket to; absent fields do not narrow. */
export interface ClientFilter {
  readonly types?: readonly ("sms_status" | "sms_inbound")[];
  /** Statuses of sms_status events (inbound events are unaffected). */
  readonly statuses?: readonly string[];
  /** Only events of these messages; `[]` follows nothing yet (use watch()). */
  readonly messageIds?: readonly string[];
}

/** Ids in the auth message itself: keeps it far below the 4 KiB frame limit, token included. */
const AUTH_IDS = 20;
/** Ids per watch frame (the server takes at most 100; 50 ids of 64 characters fit in 4 KiB). */
const FRAME_IDS = 50;

export class WatchSet {
  readonly #ids: Set<string>;

  constructor(initial: readonly string[]) {
    this.#ids = new Set(initial);
  }

  get size(): number {
    return this.#ids.size;
  }

  /** Adds ids; returns the new ones (the frames to send). */
  add(ids: readonly string[]): string[] {
    const added = ids.filter((id) => !this.#ids.has(id));
    for (const id of added) this.#ids.add(id);
    return added;
  }

  remove(ids: readonly string[]): string[] {
    return ids.filter((id) => this.#ids.delete(id));
  }

  /** The auth filter of a new socket and the watch frames to send right after the auth message. */
  authPlan(filter: ClientFilter): { filter: ClientFilter; frames: string[] } {
    const ids = [...this.#ids];
    return { filter: { ...filter, messageIds: ids.slice(0, AUTH_IDS) }, frames: frames("watch", ids.slice(AUTH_IDS)) };
  }
}

/** `{"type":"watch"|"unwatch","messageIds":[...]}` frames of at most FRAME_IDS ids each. */
export function frames(type: "watch" | "unwatch", ids: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < ids.length; i += FRAME_IDS) out.push(JSON.stringify({ type, messageIds: ids.slice(i, i + FRAME_IDS) }));
  return out;
}
