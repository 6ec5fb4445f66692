package smsws_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	smsws "github.com/sms-ws/sms-ws-gateway/clients/go"
	"github.com/sms-ws/sms-ws-gateway/clients/go/publisher"
)

func connect(t *testing.T, url string, opts ...smsws.Option) *smsws.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := smsws.Connect(ctx, url, append([]smsws.Option{smsws.WithBackoff(50*time.Millisecond, 500*time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// receive reads n events (or fails after the deadline).
func receive(t *testing.T, c *smsws.Client, n int, within time.Duration) []smsws.Event {
	t.Helper()
	deadline := time.After(within)
	var out []smsws.Event
	for len(out) < n {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("events closed after %d of %d: %v", len(out), n, c.Err())
			}
			out = append(out, ev)
		case <-deadline:
			t.Fatalf("%d of %d events within %v", len(out), n, within)
		}
	}
	return out
}

func TestIntegrationLiveEventsAndHistoryWalk(t *testing.T) {
	f := startFleet(t, 1)
	c := connect(t, f.Nodes[0].URL, smsws.WithAPIKey(f.APIKey))
	p := f.publisher(t)
	var seqs []uint64
	for i := 0; i < 5; i++ {
		seqs = append(seqs, f.publish(t, p, i).Seq)
	}
	events := receive(t, c, 5, 10*time.Second)
	for i, ev := range events {
		if ev.Type != smsws.TypeStatus || ev.MessageID != fmt.Sprintf("m%d", i) || !ev.HasSeq || ev.Seq != seqs[i] || ev.TenantID != f.TenantID {
			t.Fatalf("event %d: %+v (published seq %d)", i, ev, seqs[i])
		}
	}
	// A retried durable publish (same eventId) is stored once: Nats-Msg-Id.
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer rcancel()
	retry := publisher.Status{EventID: events[0].EventID, MessageID: "m0", AppID: f.AppID, TenantID: f.TenantID, Status: "sent"}
	if again, err := p.PublishStatus(rctx, retry); err != nil || !again.Duplicate || again.Seq != seqs[0] {
		t.Fatalf("retried publish: %+v %v", again, err)
	}
	// The direct path: core NATS, no stream, no seq.
	direct := f.publisherAs(t, "directProducer")
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	pub, err := direct.PublishInbound(dctx, publisher.Inbound{MessageID: "d1", TenantID: f.TenantID, From: "+15550001", To: "+15550002", Body: "hi"}, publisher.Direct())
	if err != nil || pub.Seq != 0 || pub.Subject != "sms."+f.TenantID+"._.inbound" {
		t.Fatalf("direct publish: %+v %v", pub, err)
	}
	if ev := receive(t, c, 1, 10*time.Second)[0]; ev.Type != smsws.TypeInbound || ev.HasSeq || ev.Body != "hi" || ev.EventID != pub.Event.Get("eventId") {
		t.Fatalf("direct event %+v", ev)
	}
	// Walk the stored events two at a time, oldest first, from the start of the stream.
	var walked []string
	pages := 0
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for page, err := range c.HistoryPages(ctx, smsws.HistoryQuery{Since: time.Unix(0, 0), Limit: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, ev := range page.Events {
			walked = append(walked, ev.EventID)
		}
	}
	if pages != 3 || len(walked) != 5 {
		t.Fatalf("%d pages, %d events", pages, len(walked))
	}
	for i, ev := range events {
		if walked[i] != ev.EventID {
			t.Fatalf("history %v, live %v", walked, events)
		}
	}
	// A refused history request carries its HTTP status.
	bad := connect(t, f.Nodes[0].URL, smsws.WithAPIKey(f.APIKey))
	_, err = bad.History(ctx, smsws.HistoryQuery{Limit: 5000})
	var he *smsws.HistoryError
	if !errors.As(err, &he) || he.Status != 400 || !errors.Is(err, smsws.ErrHistory) {
		t.Fatalf("limit 5000: %v", err)
	}
}

func TestIntegrationTokenExpiresMidStream(t *testing.T) {
	f := startFleet(t, 1)
	var calls atomic.Int32
	// 2 s tokens: the refresh floor (5 s) is later than exp, so the node closes with 4419 and
	// the client reconnects with a fresh token and resumes.
	src := smsws.TokenFunc(func(ctx context.Context) (string, error) {
		calls.Add(1)
		return f.token(t, 2), nil
	})
	c := connect(t, f.Nodes[0].URL, smsws.WithTokenSource(src))
	p := f.publisher(t)
	// Events flow (one every 100 ms) until the 4419 has happened and three more events arrived.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(20 * time.Second)
	after4419 := -1
	for n := 0; after4419 < 3; n++ {
		if time.Now().After(deadline) {
			t.Fatalf("no 4419 within 20 s (%d events, %d tokens)", n, calls.Load())
		}
		<-tick.C
		f.publish(t, p, n)
		if ev := receive(t, c, 1, 10*time.Second)[0]; ev.MessageID != fmt.Sprintf("m%d", n) {
			t.Fatalf("event %d is %s", n, ev.MessageID)
		}
		for len(c.Notices()) > 0 {
			if sc, ok := (<-c.Notices()).(smsws.StateChange); ok && sc.State == smsws.StateReconnecting && sc.CloseCode == 4419 && after4419 < 0 {
				after4419 = 0
			}
		}
		if after4419 >= 0 {
			after4419++
		}
	}
	if calls.Load() < 2 || c.Err() != nil {
		t.Fatalf("%d tokens, err %v", calls.Load(), c.Err())
	}
}

func TestIntegrationTokenRefreshedInBand(t *testing.T) {
	f := startFleet(t, 1)
	var calls atomic.Int32
	// 8 s tokens: the refresh is planned 6.4-7.2 s in, before exp: the socket stays open.
	src := smsws.TokenFunc(func(ctx context.Context) (string, error) {
		calls.Add(1)
		return f.token(t, 8), nil
	})
	start := time.Now()
	c := connect(t, f.Nodes[0].URL, smsws.WithTokenSource(src))
	p := f.publisher(t)
	// Events flow (one every 250 ms) until 2 s past the first token's exp.
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for n := 0; time.Since(start) < 10*time.Second; n++ {
		<-tick.C
		f.publish(t, p, n)
		receive(t, c, 1, 5*time.Second)
	}
	for len(c.Notices()) > 0 {
		if sc, ok := (<-c.Notices()).(smsws.StateChange); ok && sc.State == smsws.StateReconnecting {
			t.Fatalf("reconnected (%d %s) instead of refreshing in band", sc.CloseCode, sc.CloseReason)
		}
	}
	if calls.Load() < 2 {
		t.Fatalf("%d token calls", calls.Load())
	}
}

func TestIntegrationKickStopsTheClient(t *testing.T) {
	f := startFleet(t, 1)
	c := connect(t, f.Nodes[0].URL, smsws.WithAPIKey(f.APIKey))
	f.command(t, "kick", map[string]any{"tenant": f.TenantID})
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("not stopped within 10 s of the kick")
	}
	var ce *smsws.CloseError
	if !errors.Is(c.Err(), smsws.ErrKicked) || !errors.As(c.Err(), &ce) || ce.Code != 4410 {
		t.Fatalf("Err %v", c.Err())
	}
}

// 100 clients over three nodes; while events flow, one node is SIGKILLed and another drained
// with SIGTERM. Every client must see every event exactly once, in order.
func TestIntegrationHundredClientsThroughAKillAndADrain(t *testing.T) {
	f := startFleet(t, 3)
	urls := []string{f.Nodes[0].URL, f.Nodes[1].URL, f.Nodes[2].URL}
	const clients, total = 100, 300
	cs := make([]*smsws.Client, clients)
	for i := range cs {
		k := i % 3
		cs[i] = connect(t, urls[k], smsws.WithAPIKey(f.APIKey), smsws.WithServers(urls[(k+1)%3], urls[(k+2)%3]),
			smsws.WithBuffers(total, 1024))
	}
	p := f.publisher(t)
	var wg sync.WaitGroup
	results := make([][]smsws.Event, clients)
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.After(60 * time.Second)
			for len(results[i]) < total {
				select {
				case ev, ok := <-c.Events():
					if !ok {
						return
					}
					results[i] = append(results[i], ev)
				case <-deadline:
					return
				}
			}
		}()
	}
	// Events flow at up to 500 a second while the nodes go away.
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for n := 0; n < total; n++ {
		switch n {
		case 100:
			f.command(t, "signal", map[string]any{"node": 0, "signal": "SIGKILL"})
		case 200:
			f.command(t, "signal", map[string]any{"node": 1, "signal": "SIGTERM"})
		}
		<-tick.C
		f.publish(t, p, n)
	}
	wg.Wait()
	for i, got := range results {
		if len(got) != total {
			t.Fatalf("client %d: %d of %d events (err %v)", i, len(got), total, cs[i].Err())
		}
		seen := map[string]bool{}
		for n, ev := range got {
			if seen[ev.EventID] || ev.MessageID != fmt.Sprintf("m%d", n) {
				t.Fatalf("client %d: event %d is %s (duplicate %v)", i, n, ev.MessageID, seen[ev.EventID])
			}
			seen[ev.EventID] = true
		}
	}
	// The clients that started on the killed and the drained node did move.
	moved := 0
	for _, c := range cs {
		for len(c.Notices()) > 0 {
			if sc, ok := (<-c.Notices()).(smsws.StateChange); ok && sc.State == smsws.StateReconnecting {
				moved++
				break
			}
		}
	}
	if moved < 2*clients/3 {
		t.Fatalf("only %d clients reconnected", moved)
	}
	t.Logf("%d clients x %d events, %d clients reconnected, no loss, no duplicate", clients, total, moved)
}

func TestIntegrationWatchNarrowsTheSocket(t *testing.T) {
	f := startFleet(t, 1)
	c := connect(t, f.Nodes[0].URL, smsws.WithAPIKey(f.APIKey), smsws.WithFilter(smsws.Filter{MessageIDs: []string{}}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if n, err := c.Watch(ctx, "m2", "m4"); err != nil || n != 2 {
		t.Fatalf("Watch: %d %v", n, err)
	}
	p := f.publisher(t)
	for i := 0; i < 6; i++ {
		f.publish(t, p, i)
	}
	got := receive(t, c, 2, 10*time.Second)
	if got[0].MessageID != "m2" || got[1].MessageID != "m4" {
		t.Fatalf("followed %s %s", got[0].MessageID, got[1].MessageID)
	}
	if n, err := c.Unwatch(ctx, "m2"); err != nil || n != 1 {
		t.Fatalf("Unwatch: %d %v", n, err)
	}
	f.publish(t, p, 2) // no longer followed: it would arrive before the m4 below
	f.publish(t, p, 4)
	if ev := receive(t, c, 1, 10*time.Second)[0]; ev.MessageID != "m4" {
		t.Fatalf("after unwatch: %s", ev.MessageID)
	}
}
