package smsws_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/url"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	smsws "github.com/sms-ws/sms-ws-gateway/clients/go"
	"github.com/sms-ws/sms-ws-gateway/clients/go/publisher"
)

// An admin client on a partitioned stream (STREAM_PARTITIONS=4, docs/partitioning.md,
// "Positions"): the node it is on is SIGKILLed; events published while it has no socket come
// back through resume.positions, every event exactly once and in order per tenant. Without
// per-partition positions the resume fails (epoch) and those events are lost.
func TestIntegrationAdminClientResumesEveryPartition(t *testing.T) {
	const k = 4
	f := startPartitionedFleet(t, 2, k)
	tenants := tenantsOfEveryPartition(k)
	lb := startSwitchProxy(t, hostOf(t, f.Nodes[0].URL))

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := smsws.Connect(ctx, "ws://"+lb.addr()+"/ws", smsws.WithAPIKey(f.AdminKey), smsws.WithBackoff(50*time.Millisecond, 200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var mu sync.Mutex
	var events []smsws.Event
	var resumed []smsws.Resumed
	var failed []smsws.ResumeFailed
	go func() {
		for ev := range c.Events() {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
		}
	}()
	go func() {
		for n := range c.Notices() {
			mu.Lock()
			switch n := n.(type) {
			case smsws.Resumed:
				resumed = append(resumed, n)
			case smsws.ResumeFailed:
				failed = append(failed, n)
			}
			mu.Unlock()
		}
	}()
	locked := func(cond func() bool) func() bool {
		return func() bool { mu.Lock(); defer mu.Unlock(); return cond() }
	}
	if c.Position() != nil {
		t.Fatalf("a position before any event: %v", c.Position())
	}

	p := f.publisher(t)
	type sent struct{ id, tenant string }
	var published []sent
	round := func(prefix string, rounds int) {
		for r := 0; r < rounds; r++ {
			for _, tenant := range tenants {
				id := fmt.Sprintf("%s-%d", prefix, len(published))
				pctx, pcancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := p.PublishStatus(pctx, publisher.Status{MessageID: id, AppID: "app", TenantID: tenant, Status: "sent"})
				pcancel()
				if err != nil {
					t.Fatalf("publish %s: %v", id, err)
				}
				published = append(published, sent{id, tenant})
			}
		}
	}

	round("before", 3)
	waitFor(t, "the events before the crash", locked(func() bool { return len(events) >= len(published) }))
	before := c.Position()
	if len(before) != k {
		t.Fatalf("positions before the crash: %v", before)
	}
	for i, pos := range before {
		if want := fmt.Sprintf("p%d/%d@", i, k); len(pos.Epoch) < len(want) || pos.Epoch[:len(want)] != want {
			t.Fatalf("position %d: %+v", i, pos)
		}
	}

	f.command(t, "signal", map[string]any{"node": 0, "signal": "SIGKILL"})
	waitFor(t, "the client noticing the crash", func() bool { return c.State() != smsws.StateLive })
	round("missed", 4) // stored while the client has no socket
	mu.Lock()
	missed := len(published) - len(events)
	mu.Unlock()
	lb.target.Store(hostOf(t, f.Nodes[1].URL))

	waitFor(t, "resumed or resume_failed", locked(func() bool { return len(resumed)+len(failed) > 0 }))
	mu.Lock()
	if len(failed) > 0 || len(resumed) != 1 || resumed[0].Replayed != int64(missed) || !slices.Equal(resumed[0].From, before) {
		t.Fatalf("resumed %+v failed %+v, want one resumed of %d from %v", resumed, failed, missed, before)
	}
	mu.Unlock()
	round("live", 2)
	waitFor(t, "every event", locked(func() bool { return len(events) >= len(published) }))

	mu.Lock()
	defer mu.Unlock()
	var got, want []string
	for _, ev := range events {
		got = append(got, ev.MessageID)
	}
	for _, s := range published {
		want = append(want, s.id)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("events %v, want each of %v once", got, want)
	}
	for _, tenant := range tenants {
		var g, w []string
		for _, ev := range events {
			if ev.TenantID == tenant {
				g = append(g, ev.MessageID)
			}
		}
		for _, s := range published {
			if s.tenant == tenant {
				w = append(w, s.id)
			}
		}
		if !slices.Equal(g, w) {
			t.Fatalf("tenant %s: %v, want %v (publish order)", tenant, g, w)
		}
	}
	// The client's positions are each partition stream's last sequence.
	r := f.Roles["admin"]
	nc, err := nats.Connect(f.NatsURL, nats.UserInfo(r.User, r.Pass), nats.CustomInboxPrefix(r.InboxPrefix))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	final := c.Position()
	for i := 0; i < k; i++ {
		info, err := js.StreamInfo(fmt.Sprintf("SMS_EVENTS_%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if len(final) != k || final[i].Seq != info.State.LastSeq {
			t.Fatalf("positions %v, stream %d last seq %d", final, i, info.State.LastSeq)
		}
	}
}

// tenantsOfEveryPartition: two tenants per partition (FNV-1a 32 of the id modulo k, as the server).
func tenantsOfEveryPartition(k int) []string {
	by := make([][]string, k)
	for n := 0; ; n++ {
		tenant := fmt.Sprintf("Go%d", n)
		h := fnv.New32a()
		_, _ = h.Write([]byte(tenant))
		if i := int(h.Sum32() % uint32(k)); len(by[i]) < 2 {
			by[i] = append(by[i], tenant)
		}
		done := true
		for _, list := range by {
			done = done && len(list) == 2
		}
		if done {
			return slices.Concat(by...)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func hostOf(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// switchProxy: a loopback TCP "load balancer" whose single target the test switches.
type switchProxy struct {
	ln     net.Listener
	target atomic.Value // string host:port
}

func (p *switchProxy) addr() string { return p.ln.Addr().String() }

func startSwitchProxy(t *testing.T, target string) *switchProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &switchProxy{ln: ln}
	p.target.Store(target)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				up, err := net.Dial("tcp", p.target.Load().(string))
				if err != nil {
					return
				}
				defer up.Close()
				go func() { _, _ = io.Copy(up, conn); _ = up.Close() }()
				_, _ = io.Copy(conn, up)
			}()
		}
	}()
	return p
}
