/**
 * The server-side filter the console asks for (README.md, "Server-side filters"): sent in the
 * auth message by the SDK (`createClient({ filter })`) and as query parameters to history.
 */
export type EventType = "sms_status" | "sms_inbound";

export interface ConsoleFilter {
  types?: EventType[];
  statuses?: string[];
  messageIds?: string[];
}

/** "a, b,,c" -> ["a", "b", "c"] (duplicates dropped). */
export function splitList(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).filter((s) => s.length > 0))];
}

/** Fields that do not narrow are left out; no field at all is no filter. */
export function makeFilter(types: EventType[], statuses: string[], messageIds: string[]): ConsoleFilter | undefined {
  const filter: ConsoleFilter = {};
  // Both types checked narrows nothing; none checked is treated the same (nothing would arrive).
  if (types.length === 1) filter.types = types;
  if (statuses.length > 0) filter.statuses = statuses;
  if (messageIds.length > 0) filter.messageIds = messageIds;
  return Object.keys(filter).length === 0 ? undefined : filter;
}

/** The same filter as history query parameters (comma-separated lists). */
export function describeFilter(filter: ConsoleFilter | undefined): string {
  if (filter === undefined) return "everything in the credential's scope";
  const parts: string[] = [];
  if (filter.types) parts.push(`types ${filter.types.join(", ")}`);
  if (filter.statuses) parts.push(`statuses ${filter.statuses.join(", ")}`);
  if (filter.messageIds) parts.push(`messages ${filter.messageIds.join(", ")}`);
  return parts.join("; ");
}
