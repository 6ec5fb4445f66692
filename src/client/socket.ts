/**
 * The narrow slice of the WebSocket API the client uses, so that the browser's global WebSocket
 * and the `ws` package's WebSocket (Node 20 has no global one) both fit without adapters.
 */

/**
 * A handler property type checked bivariantly: `ws` declares `onmessage(event: ws.MessageEvent)`
 * and the DOM declares `onmessage(this: WebSocket, ev: MessageEvent)`; both must be assignable
 * to this interface although each event type carries more than the client reads.
 */
type Handler<E> = { bivarianceHack(event: E): void }["bivarianceHack"];

export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<unknown> | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** readyState values shared by every WebSocket implementation. */
export const ReadyState = { Connecting: 0, Open: 1, Closing: 2, Closed: 3 } as const;

/**
 * Stop listening to a socket and close it. `graceful` sends a close frame and lets the handshake
 * finish in the background; otherwise (a silent, probably dead peer) the socket is dropped at once.
 */
export function abandonSocket(socket: WebSocketLike, code: number, reason: string, graceful: boolean): void {
  socket.onopen = null;
  socket.onmessage = null;
  socket.onclose = null;
  // Keep a no-op error handler: `ws` would otherwise report a late error as unhandled.
  socket.onerror = () => {};
  if (socket.readyState === ReadyState.Closed || socket.readyState === ReadyState.Closing) return;
  // A dead peer never answers the close frame; `ws` then holds the socket for 30 s. Its
  // terminate() drops it at once. Browsers have no terminate and clean up on their own.
  const terminate = (socket as { terminate?: unknown }).terminate;
  try {
    if (!graceful && typeof terminate === "function") terminate.call(socket);
    else socket.close(code, reason);
  } catch {
    // Closing a socket that is still connecting throws in some implementations; it is gone anyway.
  }
}
