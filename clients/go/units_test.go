package smsws

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestBackoffFullJitter(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: 30 * time.Second}
	cases := []struct {
		attempt int
		r       float64
		want    time.Duration
	}{
		{0, 0.5, 500 * time.Millisecond},
		{1, 0.5, time.Second},
		{3, 0.999, 7992 * time.Millisecond},
		{10, 0.5, 15 * time.Second}, // capped at Max
		{1000, 1, 30 * time.Second},
		{-1, 1, time.Second},
		{2, 0, 0},
	}
	for _, c := range cases {
		if got := b.Delay(c.attempt, func() float64 { return c.r }); got != c.want {
			t.Errorf("Delay(%d, %v) = %v, want %v", c.attempt, c.r, got, c.want)
		}
	}
}

func TestEventIDWindowIsBounded(t *testing.T) {
	w := newEventIDWindow(3)
	for _, id := range []string{"a", "b", "c"} {
		if !w.add(id) {
			t.Fatalf("%s reported as duplicate", id)
		}
	}
	if w.add("b") {
		t.Fatal("b not reported as duplicate")
	}
	w.add("d") // evicts a
	if w.has("a") || !w.has("d") || len(w.ids) != 3 {
		t.Fatalf("window after eviction: %v", w.ids)
	}
	if !w.add("a") {
		t.Fatal("a was evicted, so it is new again")
	}
}

func TestPlanRefresh(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	// 1 h left: margin 60 s, no jitter -> 59 min.
	p := planRefresh(now.Add(time.Hour), now, minRefreshDelay, func() float64 { return 0 })
	if p.delay != 59*time.Minute || p.nextFloor != minRefreshDelay {
		t.Fatalf("1 h: %+v", p)
	}
	// 100 s left, full jitter: margin 10 s -> 80 s.
	p = planRefresh(now.Add(100*time.Second), now, minRefreshDelay, func() float64 { return 1 })
	if p.delay != 80*time.Second {
		t.Fatalf("100 s: %+v", p)
	}
	// Already expired by the local clock: the floor, doubled for next time.
	p = planRefresh(now.Add(-time.Minute), now, 10*time.Second, func() float64 { return 0 })
	if p.delay != 10*time.Second || p.nextFloor != 20*time.Second {
		t.Fatalf("expired: %+v", p)
	}
	p = planRefresh(now, now, maxRefreshFloor, func() float64 { return 0 })
	if p.nextFloor != maxRefreshFloor {
		t.Fatalf("floor cap: %+v", p)
	}
}

func TestRoutingHint(t *testing.T) {
	if got := routedURL("ws://h:1/ws", "", 1, nil); got != "ws://h:1/ws" {
		t.Fatal(got)
	}
	if got := routedURL("ws://h:1/ws?x=1", "t1", 1, nil); got != "ws://h:1/ws?x=1&tenant=t1" {
		t.Fatal(got)
	}
	if got := routedURL("ws://h:1/ws", "t1", 4, func() float64 { return 0.99 }); got != "ws://h:1/ws?tenant=t1%3A3" {
		t.Fatal(got)
	}
	// header.{"tenantId":"ten_1"}.sig
	tok := "eyJhbGciOiJIUzI1NiJ9.eyJ0ZW5hbnRJZCI6InRlbl8xIn0.c2ln"
	if got := tokenTenant(tok); got != "ten_1" {
		t.Fatalf("tokenTenant = %q", got)
	}
	for _, bad := range []string{"", "a.b", "a.!!!.c", "a.eyJ0ZW5hbnRJZCI6ImEgYiJ9.c"} {
		if got := tokenTenant(bad); got != "" {
			t.Fatalf("tokenTenant(%q) = %q", bad, got)
		}
	}
}

func TestPartitionOfIsFNV1a(t *testing.T) {
	// FNV-1a 32 of "" is the offset basis 2166136261; of "a" 0xe40c292c.
	if partitionOf("", 7) != int(uint32(2166136261)%7) || partitionOf("a", 1000) != int(uint32(0xe40c292c)%1000) {
		t.Fatal("partitionOf is not FNV-1a 32")
	}
}

func TestWatchSetPlansAuthAndFrames(t *testing.T) {
	var ids []string
	for i := 0; i < 75; i++ {
		ids = append(ids, "m"+strconv.Itoa(i))
	}
	w := newWatchSet(ids)
	f, frames := w.authPlan(Filter{Types: []string{"sms_status"}})
	if len(f.MessageIDs) != authIDs || f.Types[0] != "sms_status" || len(frames) != 2 {
		t.Fatalf("plan: %d ids, %d frames", len(f.MessageIDs), len(frames))
	}
	if !strings.HasPrefix(string(frames[0]), `{"type":"watch","messageIds":[`) {
		t.Fatal(string(frames[0]))
	}
	if got := w.add([]string{ids[0], "new"}); len(got) != 1 || got[0] != "new" {
		t.Fatalf("add: %v", got)
	}
	if got := w.remove([]string{"new", "absent"}); len(got) != 1 || w.size() != 75 {
		t.Fatalf("remove: %v size %d", got, w.size())
	}
	empty := newWatchSet([]string{})
	f, frames = empty.authPlan(Filter{})
	if f.MessageIDs == nil || len(f.MessageIDs) != 0 || frames != nil {
		t.Fatal("an empty set must still send messageIds: []")
	}
	if b := string(authMessage("k", nil, false, &f)); b != `{"apiKey":"k","filter":{"messageIds":[]},"type":"auth"}` {
		t.Fatal(b)
	}
}

func TestAuthMessageResume(t *testing.T) {
	one := []Position{{Epoch: "e1", Seq: 7}}
	if b := string(authMessage("k", one, false, nil)); b != `{"apiKey":"k","resume":{"epoch":"e1","seq":7},"type":"auth"}` {
		t.Fatal(b)
	}
	two := []Position{{Epoch: "p0/2@x", Seq: 1}, {Epoch: "p1/2@x", Seq: 2}}
	if b := string(authMessage("k", two, true, nil)); b != `{"apiKey":"k","resume":{"positions":[{"epoch":"p0/2@x","seq":1},{"epoch":"p1/2@x","seq":2}]},"type":"auth"}` {
		t.Fatal(b)
	}
}

func TestCloseErrorIsSentinel(t *testing.T) {
	for code, want := range map[int]error{4400: ErrBadRequest, 4401: ErrUnauthorized, 4403: ErrForbidden, 4410: ErrKicked} {
		a := actionFor(code)
		if a.Kind != "stop" {
			t.Fatalf("%d: %+v", code, a)
		}
		var err error = &CloseError{Code: code, ErrorCode: a.Error}
		var ce *CloseError
		if !errors.Is(err, want) || !errors.As(err, &ce) || ce.Code != code {
			t.Fatalf("%d: %v is not %v", code, err, want)
		}
	}
	if a := actionFor(1006); a.Kind != "reconnect" {
		t.Fatalf("unlisted codes reconnect: %+v", a)
	}
	if a := actionFor(4419); a.Kind != "reconnect" || !a.FreshCredential {
		t.Fatalf("4419: %+v", a)
	}
}
