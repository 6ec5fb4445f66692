/**
 * The authentication decision for a socket's first frame, as a plain function over the key store.
 */
import { ClientProtocolError } from "../errors.js";
import type { KeyRecord } from "../keys/key-record.js";
import { scopeOfRecord } from "../keys/key-record.js";
import type { AuthOutcome } from "../metrics/metrics.js";
import type { Scope } from "../scope/scope.js";
import { parseAuthMessage, type ResumeRequest } from "./client-messages.js";
import { Refusals, type Refusal } from "./refusal.js";

export type AuthDecision =
  | { type: "reject"; outcome: AuthOutcome; refusal: Refusal }
  | { type: "accept"; hash: string; record: KeyRecord; scope: Scope; resume?: ResumeRequest };

export interface KeyLookup {
  lookup(apiKey: string): { hash: string; record: KeyRecord } | undefined;
}

export function authenticate(frame: ArrayBuffer, isBinary: boolean, keys: KeyLookup): AuthDecision {
  let auth;
  try {
    auth = parseAuthMessage(frame, isBinary);
  } catch (err) {
    if (!(err instanceof ClientProtocolError)) throw err;
    return { type: "reject", outcome: "bad_request", refusal: { code: err.closeCode, reason: err.message } };
  }
  const found = keys.lookup(auth.apiKey);
  if (found === undefined) {
    return { type: "reject", outcome: "invalid_key", refusal: Refusals.invalidKey };
  }
  return {
    type: "accept",
    hash: found.hash,
    record: found.record,
    scope: scopeOfRecord(found.record),
    ...(auth.resume === undefined ? {} : { resume: auth.resume }),
  };
}
