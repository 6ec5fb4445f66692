/**
 * A feed: one NATS subscription paired with the one uWS topic its events are published to. Which
 * feeds a socket gets is decided by its scope (src/scope/scope.ts); the bus only carries them.
 */
export interface Feed {
  /** NATS subject (with wildcard) the node subscribes to while the feed has sockets. */
  readonly subject: string;
  /** uWS topic the feed's events are published to. */
  readonly topic: string;
}
