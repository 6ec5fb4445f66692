package smsws

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The vectors' scripted sessions, each run against this client over real sockets: the test's
// server plays the script (open, recv, close) and the client's frames, events, notices, errors,
// states and final position must be the TypeScript client's.

type sessionVector struct {
	Name    string `json:"name"`
	Options struct {
		ResumeFrom json.RawMessage `json:"resumeFrom"` // one position, or a list (admin, K partitions)
		Filter     *Filter         `json:"filter"`
		TenantHint string          `json:"tenantHint"`
	} `json:"options"`
	Script []struct {
		Open   bool    `json:"open"`
		Recv   *string `json:"recv"`
		Close  int     `json:"close"`
		Reason string  `json:"reason"`
	} `json:"script"`
	Expect struct {
		Sockets []struct {
			URL  string           `json:"url"`
			Sent []map[string]any `json:"sent"`
		} `json:"sockets"`
		Delivered []string         `json:"delivered"`
		Notices   []map[string]any `json:"notices"`
		Errors    []struct {
			Code      string `json:"code"`
			CloseCode *int   `json:"closeCode"`
			Fatal     bool   `json:"fatal"`
		} `json:"errors"`
		States []string `json:"states"`
		Final  struct {
			State     string     `json:"state"`
			Position  *Position  `json:"position"`
			Positions []Position `json:"positions"` // [position] on one stream, K on a partitioned one
		} `json:"final"`
	} `json:"expect"`
}

type step = struct {
	Open   bool    `json:"open"`
	Recv   *string `json:"recv"`
	Close  int     `json:"close"`
	Reason string  `json:"reason"`
}

// segments splits a script at each open: one segment per socket the server accepts.
func segments(script []step) [][]step {
	var out [][]step
	for _, s := range script {
		if s.Open {
			out = append(out, nil)
			continue
		}
		out[len(out)-1] = append(out[len(out)-1], s)
	}
	return out
}

func errorCodeOf(err error) string {
	var ce *CloseError
	switch {
	case errors.As(err, &ce):
		return ce.ErrorCode
	case errors.Is(err, ErrInvalidFrame):
		return "INVALID_FRAME"
	case errors.Is(err, ErrTokenFetch):
		return "TOKEN_FETCH_FAILED"
	}
	return err.Error()
}

func TestVectorSessions(t *testing.T) {
	v := loadVectors(t)
	if len(v.Sessions) < 10 {
		t.Fatalf("only %d sessions", len(v.Sessions))
	}
	for _, sv := range v.Sessions {
		t.Run(sv.Name, func(t *testing.T) {
			noLeaks(t)
			runSession(t, sv)
		})
	}
}

func runSession(t *testing.T, sv sessionVector) {
	segs := segments(sv.Script)
	type socket struct {
		uri  string
		sent []map[string]any
	}
	var mu sync.Mutex
	var sockets []*socket
	accepted := make(chan int, 8)
	finished := make(chan struct{}, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		mu.Lock()
		i := len(sockets)
		sk := &socket{uri: r.URL.RequestURI()}
		sockets = append(sockets, sk)
		mu.Unlock()
		accepted <- i
		ctx := r.Context()
		want := 0
		if i < len(sv.Expect.Sockets) {
			want = len(sv.Expect.Sockets[i].Sent)
		}
		// The frames the client sends on opening (auth, then watch frames).
		for n := 0; n < max(want, 1); n++ {
			_, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			var m map[string]any
			_ = json.Unmarshal(data, &m)
			mu.Lock()
			sk.sent = append(sk.sent, m)
			mu.Unlock()
		}
		if i >= len(segs) { // a socket the script never opens: it only shows the client reconnects
			finished <- struct{}{}
			holdOpen(ctx, c)
			return
		}
		for _, s := range segs[i] {
			if s.Recv != nil {
				_ = c.Write(ctx, websocket.MessageText, []byte(*s.Recv))
			}
			if s.Close != 0 {
				if s.Close == 1006 {
					c.CloseNow() // an abnormal drop: no close frame at all
				} else {
					c.Close(websocket.StatusCode(s.Close), s.Reason)
				}
				finished <- struct{}{}
				return
			}
		}
		finished <- struct{}{}
		holdOpen(ctx, c)
	}))
	defer srv.Close()

	clock := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	opts := []Option{WithAPIKey("KEY"), WithPingInterval(0), withRandom(func() float64 { return 0 }), withNow(func() time.Time { return clock })}
	if raw := sv.Options.ResumeFrom; raw != nil {
		var list []Position
		var err error
		if raw[0] != '[' {
			list = make([]Position, 1)
			err = json.Unmarshal(raw, &list[0])
		} else {
			err = json.Unmarshal(raw, &list)
		}
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, WithResumeFrom(list...))
	}
	if sv.Options.Filter != nil {
		opts = append(opts, WithFilter(*sv.Options.Filter))
	}
	if sv.Options.TenantHint != "" {
		opts = append(opts, WithTenantHint(sv.Options.TenantHint, 1))
	}
	c, err := start("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// Wait until every expected socket was accepted and has played its part.
	deadline := time.After(10 * time.Second)
	for n := 0; n < len(sv.Expect.Sockets); n++ {
		select {
		case <-finished:
		case <-deadline:
			t.Fatalf("only %d of %d sockets played", n, len(sv.Expect.Sockets))
		}
	}
	var delivered []string
	for len(delivered) < len(sv.Expect.Delivered) {
		select {
		case ev := <-c.Events():
			delivered = append(delivered, ev.EventID)
		case <-deadline:
			t.Fatalf("delivered %v, want %v", delivered, sv.Expect.Delivered)
		}
	}
	if !reflect.DeepEqual(delivered, sv.Expect.Delivered) && len(sv.Expect.Delivered) > 0 {
		t.Errorf("delivered %v, want %v", delivered, sv.Expect.Delivered)
	}
	if sv.Expect.Final.State == "closed" {
		<-c.Done()
	}
	// Notices arrive in order; read until the states the vector lists have all been seen.
	var states []string
	var notices []map[string]any
	var errs []string
	fatal := ""
	read := func(n Notice) {
		switch n := n.(type) {
		case StateChange:
			states = append(states, string(n.State))
			if n.Err != nil {
				fatal = errorCodeOf(n.Err)
			}
		case Resumed:
			m := map[string]any{"kind": "resumed", "replayed": float64(n.Replayed)}
			askedFrom(m, n.From)
			notices = append(notices, m)
		case ResumeFailed:
			m := map[string]any{"kind": "resumeFailed", "reason": n.Reason}
			askedFrom(m, n.From)
			if !n.DisconnectedAt.IsZero() {
				m["disconnectedAt"] = n.DisconnectedAt.UTC().Format("2006-01-02T15:04:05.000Z")
			}
			notices = append(notices, m)
		case ErrorNotice:
			errs = append(errs, errorCodeOf(n.Err))
		}
	}
	for !hasPrefix(states, sv.Expect.States) {
		select {
		case n, ok := <-c.Notices():
			if !ok {
				t.Fatalf("states %v, want %v", states, sv.Expect.States)
			}
			read(n)
		case <-deadline:
			t.Fatalf("states %v, want %v", states, sv.Expect.States)
		}
	}
	if sv.Expect.Final.State != "closed" {
		for len(c.Notices()) > 0 {
			read(<-c.Notices())
		}
	}
	if len(notices) != len(sv.Expect.Notices) || (len(notices) > 0 && !reflect.DeepEqual(notices, sv.Expect.Notices)) {
		t.Errorf("notices %v, want %v", notices, sv.Expect.Notices)
	}
	var wantErrs []string
	wantFatal := ""
	for _, e := range sv.Expect.Errors {
		if e.Fatal {
			wantFatal = e.Code
			if e.CloseCode != nil {
				var ce *CloseError
				if !errors.As(c.Err(), &ce) || ce.Code != *e.CloseCode {
					t.Errorf("Err %v, want close code %d", c.Err(), *e.CloseCode)
				}
			}
		} else {
			wantErrs = append(wantErrs, e.Code)
		}
	}
	if fatal != wantFatal || strings.Join(errs, ",") != strings.Join(wantErrs, ",") {
		t.Errorf("errors %v fatal %q, want %v fatal %q", errs, fatal, wantErrs, wantFatal)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, want := range sv.Expect.Sockets {
		got := sockets[i]
		u, _ := url.Parse(want.URL)
		if got.uri != u.RequestURI() {
			t.Errorf("socket %d: %s, want %s", i, got.uri, u.RequestURI())
		}
		if len(want.Sent) > 0 && !reflect.DeepEqual(got.sent, want.Sent) {
			t.Errorf("socket %d sent %v, want %v", i, got.sent, want.Sent)
		}
	}
	final := c.Position()
	if want := sv.Expect.Final.Position; want != nil && (len(final) != 1 || final[0] != *want) {
		t.Errorf("final position %v, want %v", final, want)
	}
	if want := sv.Expect.Final.Positions; !(len(want) == 0 && len(final) == 0) && !reflect.DeepEqual(final, want) {
		t.Errorf("final positions %v, want %v", final, want)
	}
}

// askedFrom renders what a notice says the client asked for as the TS client does: `from` (one
// stream) or `positions` (admin socket on K > 1 partitions).
func askedFrom(m map[string]any, from []Position) {
	switch {
	case len(from) == 1:
		m["from"] = posMap(from[0])
	case len(from) > 1:
		list := make([]any, len(from))
		for i, p := range from {
			list[i] = posMap(p)
		}
		m["positions"] = list
	}
}

func posMap(p Position) map[string]any {
	return map[string]any{"epoch": p.Epoch, "seq": float64(p.Seq)}
}

func hasPrefix(got, want []string) bool {
	return len(got) >= len(want) && reflect.DeepEqual(got[:len(want)], want)
}

var _ = context.Background
