/**
 * sms-ws-gateway/client: a zero-dependency TypeScript client for the gateway's WebSocket
 * protocol, for browsers (global WebSocket) and Node (inject `ws`). See docs/client-sdk.md.
 */
import { SmsWsClient } from "./client.js";
import type { ClientOptions } from "./options.js";

export { SmsWsClient } from "./client.js";
export { SmsWsError, type SmsWsErrorCode } from "./errors.js";
export { backoffDelay, type BackoffOptions } from "./backoff.js";
export { closeAction, HEARTBEAT_TIMEOUT_CLOSE, type CloseAction } from "./close-codes.js";
export { EventIdWindow } from "./dedupe.js";
export { historyUrlOf, type BackfillResult, type FetchLike, type HistoryFilter, type HistoryPage, type HistoryQuery } from "./history.js";
export { DEFAULTS, type ClientOptions, type GetToken, type ReconnectOptions, type Timers } from "./options.js";
export type { WebSocketConstructor, WebSocketLike } from "./socket.js";
export type { ClientFilter } from "./watch-set.js";
export type {
  ClientEventMap,
  ClientItem,
  ClientState,
  ResumeFailedReason,
  ResumeFailure,
  ResumeSuccess,
  SmsEvent,
  SmsInboundEvent,
  SmsStatus,
  SmsStatusEvent,
  StateChange,
  StreamPosition,
} from "./types.js";

/** Creates a client and starts connecting at once (like `new WebSocket`). */
export function createClient(options: ClientOptions): SmsWsClient {
  return new SmsWsClient(options);
}
