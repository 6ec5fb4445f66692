package smsws

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"
)

// TokenSource returns a fresh connection token minted by your backend. The client calls it
// before every connection and again before the current token's exp (it then refreshes the socket
// in place). Each call gets a context with a 30 s deadline.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// TokenFunc adapts a function to a TokenSource.
type TokenFunc func(ctx context.Context) (string, error)

// Token calls f.
func (f TokenFunc) Token(ctx context.Context) (string, error) { return f(ctx) }

// Option configures Connect.
type Option func(*options) error

type options struct {
	apiKey       string
	servers      []string
	tokens       TokenSource
	backoff      Backoff
	reconnect    bool
	pingInterval time.Duration
	resume       bool
	resumeFrom   []Position
	backfill     bool
	historyURL   string
	httpClient   *http.Client
	dedupeWindow int
	filter       *Filter
	tenantHint   string
	tenantSlots  int
	eventBuffer  int
	noticeBuffer int
	random       func() float64
	now          func() time.Time
}

// Defaults, all in one place.
func defaultOptions() options {
	return options{
		backoff:      DefaultBackoff,
		reconnect:    true,
		pingInterval: 30 * time.Second,
		resume:       true,
		httpClient:   &http.Client{Timeout: 30 * time.Second},
		dedupeWindow: 10_000,
		tenantSlots:  1,
		eventBuffer:  256,
		noticeBuffer: 256,
		random:       rand.Float64,
		now:          time.Now,
	}
}

// WithAPIKey authenticates with a long-lived API key (servers only, never in a web page).
func WithAPIKey(key string) Option {
	return func(o *options) error {
		if key == "" {
			return fmt.Errorf("smsws: WithAPIKey: empty key")
		}
		o.apiKey = key
		return nil
	}
}

// WithTokenSource authenticates with short-lived connection tokens.
func WithTokenSource(src TokenSource) Option {
	return func(o *options) error {
		if src == nil {
			return fmt.Errorf("smsws: WithTokenSource: nil source")
		}
		o.tokens = src
		return nil
	}
}

// WithBackoff sets the reconnect backoff (full jitter between 0 and min(max, initial*2^n)).
func WithBackoff(initial, max time.Duration) Option {
	return func(o *options) error {
		if initial < 0 || max < initial {
			return fmt.Errorf("smsws: WithBackoff(%v, %v): want 0 <= initial <= max", initial, max)
		}
		o.backoff = Backoff{Initial: initial, Max: max}
		return nil
	}
}

// WithoutReconnect: the first drop closes the client (Err reports why).
func WithoutReconnect() Option {
	return func(o *options) error { o.reconnect = false; return nil }
}

// WithPingInterval is the server's ping interval (default 30 s): with no frame at all for two
// intervals the client drops the socket and reconnects. 0 disables the watchdog.
func WithPingInterval(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("smsws: WithPingInterval(%v): want >= 0", d)
		}
		o.pingInterval = d
		return nil
	}
}

// WithoutResume: reconnects do not ask for a replay.
func WithoutResume() Option {
	return func(o *options) error { o.resume = false; return nil }
}

// WithResumeFrom resumes the first connection from a stored position (one per partition for an
// admin client on a partitioned stream, in partition order).
func WithResumeFrom(positions ...Position) Option {
	return func(o *options) error {
		if len(positions) == 0 || len(positions) > maxPartitions {
			return fmt.Errorf("smsws: WithResumeFrom: want 1 to %d positions, got %d", maxPartitions, len(positions))
		}
		for i, p := range positions {
			if p.Epoch == "" || p.Seq > 1<<53-1 {
				return fmt.Errorf("smsws: WithResumeFrom: position %d %+v: want a non-empty epoch and a seq <= 2^53-1", i, p)
			}
		}
		o.resumeFrom = append([]Position(nil), positions...)
		return nil
	}
}

// WithBackfill: after resume_failed for retention, page through what the stream still holds
// over HTTP, deliver it as events and report a Backfilled notice.
func WithBackfill() Option {
	return func(o *options) error { o.backfill = true; return nil }
}

// WithHistoryURL overrides the history endpoint (default: ws(s)://host/ws -> http(s)://host/v1/events).
func WithHistoryURL(u string) Option {
	return func(o *options) error { o.historyURL = u; return nil }
}

// WithHTTPClient sets the client of History and the backfill.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) error {
		if c == nil {
			return fmt.Errorf("smsws: WithHTTPClient: nil client")
		}
		o.httpClient = c
		return nil
	}
}

// WithDedupeWindow sets how many recent event ids are remembered (default 10000).
func WithDedupeWindow(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("smsws: WithDedupeWindow(%d): want >= 1", n)
		}
		o.dedupeWindow = n
		return nil
	}
}

// WithFilter sets the server-side filter sent in every auth message. A non-nil MessageIDs
// (empty for none yet) enables Watch and Unwatch.
func WithFilter(f Filter) Option {
	return func(o *options) error {
		for name, list := range map[string][]string{"Types": f.Types, "Statuses": f.Statuses, "MessageIDs": f.MessageIDs} {
			for _, v := range list {
				if v == "" {
					return fmt.Errorf("smsws: WithFilter: empty string in %s", name)
				}
			}
		}
		o.filter = &f
		return nil
	}
}

// WithTenantHint adds tenant=<id> to the URL so the load balancer keeps a tenant's sockets on
// few nodes. Token clients derive it from each token's tenantId claim when absent; slots > 1
// spreads a big tenant over <id>:<slot>.
func WithTenantHint(tenantID string, slots int) Option {
	return func(o *options) error {
		if tenantID != "" && !tenantIDPattern.MatchString(tenantID) {
			return fmt.Errorf("smsws: WithTenantHint(%q): want 1-64 of A-Z a-z 0-9 _ -", tenantID)
		}
		if slots < 1 || slots > 1024 {
			return fmt.Errorf("smsws: WithTenantHint slots=%d: want 1..1024", slots)
		}
		o.tenantHint, o.tenantSlots = tenantID, slots
		return nil
	}
}

// WithBuffers sets the capacity of the Events and Notices channels (default 256 each). A full
// Events channel holds the client back (the socket stops being read, TCP pushes back, and the
// server may close a slow consumer with 4429, after which the client resumes); a full Notices
// channel drops the newest notice, so an unread Notices channel never stops events.
func WithBuffers(events, notices int) Option {
	return func(o *options) error {
		if events < 0 || notices < 0 {
			return fmt.Errorf("smsws: WithBuffers(%d, %d): want >= 0", events, notices)
		}
		o.eventBuffer, o.noticeBuffer = events, notices
		return nil
	}
}

// WithServers adds gateway URLs tried in turn with the Connect URL, one per connection attempt
// (like nats.go's server list), for setups without a load balancer in front of the nodes: a
// node that dies or drains sends the client to the next one, where it resumes.
func WithServers(urls ...string) Option {
	return func(o *options) error {
		for _, u := range urls {
			if u == "" {
				return fmt.Errorf("smsws: WithServers: empty url")
			}
		}
		o.servers = append(o.servers, urls...)
		return nil
	}
}

// withRandom is for tests of the jitter.
func withRandom(r func() float64) Option {
	return func(o *options) error { o.random = r; return nil }
}

// withNow is for tests of the clock (disconnectedAt, refresh plans).
func withNow(now func() time.Time) Option {
	return func(o *options) error { o.now = now; return nil }
}
