package smsws

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestBackfillAfterRetentionRecoversWhatTheStreamHolds(t *testing.T) {
	noLeaks(t)
	auth := make(chan string, 4)
	var sockets atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/events", func(w http.ResponseWriter, r *http.Request) {
		auth <- r.Header.Get("Authorization")
		if r.URL.Query().Get("since") == "" || r.URL.Query().Get("limit") != "1000" {
			http.Error(w, `{"error":"unexpected query"}`, 400)
			return
		}
		ev := func(id string, seq int) string {
			return fmt.Sprintf(`{"type":"sms_status","eventId":%q,"messageId":"m","appId":"A","tenantId":"T","status":"sent","timestamp":"2026-01-01T00:00:00Z","seq":%d}`, id, seq)
		}
		fmt.Fprintf(w, `{"epoch":"E","events":[%s,%s],"next":null}`, ev("c", 8), ev("d", 9))
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		if _, _, err := c.Read(ctx); err != nil {
			return
		}
		n := sockets.Add(1)
		sendJSON(ctx, c, map[string]any{"type": "auth_ok", "epoch": "E"})
		if n == 1 {
			sendJSON(ctx, c, status("a", 5))
			return // dropped without a close frame (1006)
		}
		sendJSON(ctx, c, map[string]any{"type": "resume_failed", "reason": "retention"})
		sendJSON(ctx, c, status("d", 9))
		holdOpen(ctx, c)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, err := Connect(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", WithAPIKey("KEY"), fast(), WithBackfill())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, nextEvent(t, c).EventID)
	}
	sort.Strings(ids)
	if strings.Join(ids, ",") != "a,c,d" {
		t.Fatalf("delivered %v", ids)
	}
	if got := <-auth; got != "Bearer KEY" {
		t.Fatalf("history authorization %q", got)
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case n := <-c.Notices():
			if b, ok := n.(Backfilled); ok {
				if b.Err != nil || b.LostBefore == nil || *b.LostBefore != (Position{"E", 8}) || b.From != (Position{"E", 5}) || b.Recovered < 1 {
					t.Fatalf("backfilled %+v", b.BackfillResult)
				}
				select {
				case ev := <-c.Events():
					t.Fatalf("a duplicate reached the application: %s", ev.EventID)
				default:
				}
				return
			}
		case <-deadline:
			t.Fatal("no Backfilled notice")
		}
	}
}

// An admin socket over K partitions keeps one position per partition and resumes with all K.
func TestAdminPartitionsResumeWithPositions(t *testing.T) {
	noLeaks(t)
	// Two tenants in different partitions of 2.
	var t0, t1 string
	for i := 0; t0 == "" || t1 == ""; i++ {
		id := fmt.Sprintf("T%d", i)
		if partitionOf(id, 2) == 0 && t0 == "" {
			t0 = id
		} else if partitionOf(id, 2) == 1 && t1 == "" {
			t1 = id
		}
	}
	ev := func(id, tenant string, seq int) map[string]any {
		e := status(id, seq)
		e["tenantId"] = tenant
		return e
	}
	epochs := []any{"p0/2@x", "p1/2@x"}
	s := newScripted(t,
		func(ctx context.Context, c *websocket.Conn, _ map[string]any) {
			sendJSON(ctx, c, map[string]any{"type": "auth_ok", "epochs": epochs})
			sendJSON(ctx, c, ev("a", t0, 3))
			sendJSON(ctx, c, ev("b", t1, 7))
			sendJSON(ctx, c, ev("c", t0, 4))
			c.Close(1001, "draining")
		},
		func(ctx context.Context, c *websocket.Conn, _ map[string]any) {
			sendJSON(ctx, c, map[string]any{"type": "auth_ok", "epochs": epochs})
			sendJSON(ctx, c, ev("c", t0, 4)) // replayed again: dropped
			sendJSON(ctx, c, ev("d", t1, 8))
			sendJSON(ctx, c, map[string]any{"type": "resumed", "replayed": 2})
			holdOpen(ctx, c)
		})
	c, err := Connect(context.Background(), s.url(), WithAPIKey("admin"), fast())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var ids []string
	for i := 0; i < 4; i++ {
		ids = append(ids, nextEvent(t, c).EventID)
	}
	if strings.Join(ids, ",") != "a,b,c,d" {
		t.Fatalf("delivered %v", ids)
	}
	resume := s.auth(1)["resume"].(map[string]any)
	if fmt.Sprint(resume["positions"]) != "[map[epoch:p0/2@x seq:4] map[epoch:p1/2@x seq:7]]" {
		t.Fatalf("resume %v", resume)
	}
	if p := c.Position(); len(p) != 2 || p[0] != (Position{"p0/2@x", 4}) || p[1] != (Position{"p1/2@x", 8}) {
		t.Fatalf("position %v", p)
	}
}
