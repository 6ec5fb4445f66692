package smsws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"
)

// scripted is a WebSocket peer that plays one script per accepted socket (the n-th socket gets
// scripts[n], the last one repeats). It checks the client's side of the protocol without a
// gateway; the integration tests run the real one.
type scripted struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	n       int
	auths   []map[string]any
	scripts []func(ctx context.Context, c *websocket.Conn, auth map[string]any)
}

func newScripted(t *testing.T, scripts ...func(ctx context.Context, c *websocket.Conn, auth map[string]any)) *scripted {
	s := &scripted{t: t, scripts: scripts}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		_, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		var auth map[string]any
		_ = json.Unmarshal(data, &auth)
		s.mu.Lock()
		i := min(s.n, len(s.scripts)-1)
		s.n++
		s.auths = append(s.auths, auth)
		s.mu.Unlock()
		s.scripts[i](ctx, c, auth)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *scripted) url() string { return "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/ws" }

func (s *scripted) auth(i int) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auths[i]
}

func sendJSON(ctx context.Context, c *websocket.Conn, v any) {
	b, _ := json.Marshal(v)
	_ = c.Write(ctx, websocket.MessageText, b)
}

func status(id string, seq int) map[string]any {
	return map[string]any{"type": "sms_status", "eventId": id, "messageId": "m1", "appId": "a1", "tenantId": "t1",
		"status": "sent", "timestamp": "2026-01-01T00:00:00Z", "seq": seq}
}

// holdOpen keeps the socket until the client goes away.
func holdOpen(ctx context.Context, c *websocket.Conn) {
	for {
		if _, _, err := c.Read(ctx); err != nil {
			return
		}
	}
}

func fast() Option { return WithBackoff(time.Millisecond, 5*time.Millisecond) }

func nextEvent(t *testing.T, c *Client) Event {
	t.Helper()
	select {
	case ev, ok := <-c.Events():
		if !ok {
			t.Fatalf("events closed: %v", c.Err())
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
	}
	return Event{}
}

func TestResumeAcrossADropDeliversEachEventOnce(t *testing.T) {
	noLeaks(t)
	s := newScripted(t,
		func(ctx context.Context, c *websocket.Conn, _ map[string]any) {
			sendJSON(ctx, c, map[string]any{"type": "auth_ok", "epoch": "E"})
			sendJSON(ctx, c, status("e1", 1))
			sendJSON(ctx, c, status("e2", 2))
			c.Close(1001, "draining")
		},
		func(ctx context.Context, c *websocket.Conn, auth map[string]any) {
			sendJSON(ctx, c, map[string]any{"type": "auth_ok", "epoch": "E"})
			sendJSON(ctx, c, status("e2", 2)) // the seam: a duplicate across the reconnect
			sendJSON(ctx, c, status("e3", 3))
			sendJSON(ctx, c, map[string]any{"type": "resumed", "replayed": 2})
			sendJSON(ctx, c, status("e4", 4))
			holdOpen(ctx, c)
		})
	c, err := Connect(context.Background(), s.url(), WithAPIKey("k"), fast())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := 0; i < 4; i++ {
		got = append(got, nextEvent(t, c).EventID)
	}
	if strings.Join(got, ",") != "e1,e2,e3,e4" {
		t.Fatalf("events %v", got)
	}
	resume := s.auth(1)["resume"].(map[string]any)
	if resume["epoch"] != "E" || resume["seq"] != float64(2) {
		t.Fatalf("resumed from %v", resume)
	}
	if p := c.Position(); len(p) != 1 || p[0].Seq != 4 {
		t.Fatalf("position %v", p)
	}
	var sawResumed bool
	for len(c.Notices()) > 0 {
		if r, ok := (<-c.Notices()).(Resumed); ok && r.Replayed == 2 {
			sawResumed = true
		}
	}
	if !sawResumed {
		t.Fatal("no Resumed notice")
	}
	c.Close()
	if _, ok := <-c.Events(); ok {
		t.Fatal("events not closed after Close")
	}
}

func TestStopCodesEndTheClientWithTheirSentinel(t *testing.T) {
	noLeaks(t)
	for code, want := range map[websocket.StatusCode]error{4400: ErrBadRequest, 4401: ErrUnauthorized, 4403: ErrForbidden, 4410: ErrKicked} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			var sockets atomic.Int32
			s := newScripted(t, func(ctx context.Context, c *websocket.Conn, _ map[string]any) {
				sockets.Add(1)
				if code == 4401 {
					sendJSON(ctx, c, map[string]any{"type": "auth_error", "error": "Invalid API key"})
				} else {
					sendJSON(ctx, c, map[string]any{"type": "auth_ok"})
				}
				c.Close(code, "bye")
			})
			c, err := Connect(context.Background(), s.url(), WithAPIKey("k"), fast())
			if code == 4401 {
				if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "Invalid API key") {
					t.Fatalf("Connect: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			<-c.Done()
			var ce *CloseError
			if !errors.Is(c.Err(), want) || !errors.As(c.Err(), &ce) || ce.Code != int(code) || sockets.Load() != 1 {
				t.Fatalf("Err %v after %d sockets", c.Err(), sockets.Load())
			}
			c.Close()
		})
	}
}

func TestTokenExpiredReconnectsWithAFreshToken(t *testing.T) {
	noLeaks(t)
	var calls atomic.Int32
	src := TokenFunc(func(ctx context.Context) (string, error) {
		return fmt.Sprintf("tok%d", calls.Add(1)), nil
	})
	s := newScripted(t,
		func(ctx context.Context, c *websocket.Conn, _ map[string]any) {
			sendJSON(ctx, c, map[string]any{"type": "auth_ok", "epoch": "E"})
			sendJSON(ctx, c, status("e1", 1))
			c.Close(4419, "token expired")
		},
		func(ctx context.Context, c *websocket.Conn, _ map[string]any) {
			sendJSON(ctx, c, map[string]any{"type": "auth_ok", "epoch": "E"})
			sendJSON(ctx, c, map[string]any{"type": "resumed", "replayed": 0})
			sendJSON(ctx, c, status("e2", 2))
			holdOpen(ctx, c)
		})
	c, err := Connect(context.Background(), s.url(), WithTokenSource(src), fast())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if a, b := nextEvent(t, c).EventID, nextEvent(t, c).EventID; a != "e1" || b != "e2" {
		t.Fatalf("%s %s", a, b)
	}
	if s.auth(0)["apiKey"] != "tok1" || s.auth(1)["apiKey"] != "tok2" || c.Err() != nil {
		t.Fatalf("auths %v %v, err %v", s.auth(0), s.auth(1), c.Err())
	}
}

func TestInBandRefreshBeforeExp(t *testing.T) {
	noLeaks(t)
	var calls atomic.Int32
	src := TokenFunc(func(ctx context.Context) (string, error) { return fmt.Sprintf("tok%d", calls.Add(1)), nil })
	refreshed := make(chan string, 1)
	s := newScripted(t, func(ctx context.Context, c *websocket.Conn, _ map[string]any) {
		// exp 1 s away: margin 100 ms, the refresh comes after the 5 s floor at the latest.
		sendJSON(ctx, c, map[string]any{"type": "auth_ok", "epoch": "E", "exp": float64(time.Now().Add(6*time.Second).UnixMilli()) / 1000})
		_, data, err := c.Read(ctx)
		if err == nil {
			refreshed <- string(data)
			sendJSON(ctx, c, map[string]any{"type": "refresh_ok", "exp": time.Now().Add(time.Hour).Unix()})
		}
		holdOpen(ctx, c)
	})
	c, err := Connect(context.Background(), s.url(), WithTokenSource(src), fast())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case got := <-refreshed:
		if got != `{"token":"tok2","type":"refresh"}` {
			t.Fatal(got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no refresh within 10 s")
	}
}

func TestHeartbeatWatchdogReconnects(t *testing.T) {
	noLeaks(t)
	s := newScripted(t,
		func(ctx context.Context, c *websocket.Conn, _ map[string]any) {
			sendJSON(ctx, c, map[string]any{"type": "auth_ok"})
			holdOpen(ctx, c) // silent: no ping
		},
		func(ctx context.Context, c *websocket.Conn, _ map[string]any) {
			sendJSON(ctx, c, map[string]any{"type": "auth_ok"})
			sendJSON(ctx, c, status("e1", 1))
			holdOpen(ctx, c)
		})
	c, err := Connect(context.Background(), s.url(), WithAPIKey("k"), fast(), WithPingInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = nextEvent(t, c)
	for n := range c.Notices() {
		if sc, ok := n.(StateChange); ok && sc.State == StateReconnecting {
			if sc.CloseCode != heartbeatCloseCode {
				t.Fatalf("reconnect after %d", sc.CloseCode)
			}
			return
		}
	}
}

func TestWatchSendsFramesAndSurvivesReconnect(t *testing.T) {
	noLeaks(t)
	watched := make(chan string, 4)
	s := newScripted(t, func(ctx context.Context, c *websocket.Conn, auth map[string]any) {
		sendJSON(ctx, c, map[string]any{"type": "auth_ok"})
		for {
			_, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			watched <- string(data)
			sendJSON(ctx, c, map[string]any{"type": "watch_ok", "count": 2, "ignored": 0})
		}
	})
	c, err := Connect(context.Background(), s.url(), WithAPIKey("k"), fast(), WithFilter(Filter{MessageIDs: []string{"m1"}}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n, err := c.Watch(context.Background(), "m2")
	if err != nil || n != 2 {
		t.Fatalf("Watch: %d %v", n, err)
	}
	if got := <-watched; got != `{"type":"watch","messageIds":["m2"]}` {
		t.Fatal(got)
	}
	f := s.auth(0)["filter"].(map[string]any)
	if fmt.Sprint(f["messageIds"]) != "[m1]" {
		t.Fatalf("auth filter %v", f)
	}
	noWatch, _ := Connect(context.Background(), s.url(), WithAPIKey("k"))
	defer noWatch.Close()
	if _, err := noWatch.Watch(context.Background(), "m"); !errors.Is(err, ErrNoWatch) {
		t.Fatalf("Watch without a filter: %v", err)
	}
}

func TestConnectHonoursItsContext(t *testing.T) {
	noLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	// Nothing listens on this address: the client retries until ctx ends.
	_, err := Connect(ctx, "ws://127.0.0.1:1/ws", WithAPIKey("k"), fast())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Connect: %v", err)
	}
	if _, err := Connect(ctx, "ws://x/ws"); err == nil {
		t.Fatal("no credential accepted")
	}
}

// noLeaks checks, after every other cleanup of the test (the scripted server's included), that
// no goroutine is left behind.
func noLeaks(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

// A client whose application never reads Events still closes at once and leaves nothing behind.
func TestCloseWhileTheApplicationDoesNotRead(t *testing.T) {
	noLeaks(t)
	s := newScripted(t, func(ctx context.Context, c *websocket.Conn, _ map[string]any) {
		sendJSON(ctx, c, map[string]any{"type": "auth_ok", "epoch": "E"})
		for i := 1; i <= 10; i++ {
			sendJSON(ctx, c, status(fmt.Sprintf("e%d", i), i))
		}
		holdOpen(ctx, c)
	})
	c, err := Connect(context.Background(), s.url(), WithAPIKey("k"), WithBuffers(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() {
		c.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked behind an unread Events channel")
	}
	if c.Err() != nil || c.State() != StateClosed {
		t.Fatalf("after Close: %v %s", c.Err(), c.State())
	}
}

func TestTokenSourceFailureIsRetriedNotFatal(t *testing.T) {
	noLeaks(t)
	var calls atomic.Int32
	src := TokenFunc(func(ctx context.Context) (string, error) {
		if calls.Add(1) == 1 {
			return "", errors.New("backend down")
		}
		return "tok", nil
	})
	s := newScripted(t, func(ctx context.Context, c *websocket.Conn, _ map[string]any) {
		sendJSON(ctx, c, map[string]any{"type": "auth_ok"})
		holdOpen(ctx, c)
	})
	c, err := Connect(context.Background(), s.url(), WithTokenSource(src), fast())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if s.auth(0)["apiKey"] != "tok" || calls.Load() != 2 {
		t.Fatalf("auth %v after %d calls", s.auth(0), calls.Load())
	}
	for len(c.Notices()) > 0 {
		if e, ok := (<-c.Notices()).(ErrorNotice); ok && errors.Is(e.Err, ErrTokenFetch) && strings.Contains(e.Err.Error(), "backend down") {
			return
		}
	}
	t.Fatal("no ErrorNotice for the failed token fetch")
}
