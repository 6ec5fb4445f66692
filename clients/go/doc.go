// Package smsws is the Go client of the sms-ws gateway's WebSocket protocol, with the guarantees
// of the TypeScript SDK (@sms-ws/client): an API key or a TokenSource (asked at every connect and
// again before the token's exp, refreshed in place), resume from the last stream position after a
// drop, de-duplication by eventId, reconnects with full-jitter exponential backoff, the heartbeat
// watchdog, the tenant routing hint, filters and watches, history over HTTP and the backfill after
// a resume that failed for retention.
//
//	c, err := smsws.Connect(ctx, "ws://127.0.0.1:8080/ws", smsws.WithAPIKey(key))
//	if err != nil { ... }
//	defer c.Close()
//	for ev := range c.Events() {
//		fmt.Println(ev.Type, ev.MessageID, ev.Status)
//	}
//	if err := c.Err(); errors.Is(err, smsws.ErrKicked) { ... }
//
// What a close code means comes from the conformance vectors generated from the TypeScript
// sources (closecodes.go), never from a hand-copied table.
package smsws
