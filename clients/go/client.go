package smsws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"sync"
)

// Client is one logical subscription to the gateway, kept alive across sockets.
//
// One goroutine (run) owns the connection's life: [token] -> dial -> auth (with the resume
// position when there is one) -> auth_ok -> [replay -> resumed | resume_failed] -> live. When a
// socket goes away the close-code table decides: reconnect after a full-jitter backoff, or stop
// with a *CloseError. Every event passes the eventId window before it reaches Events.
type Client struct {
	urls    []string // the Connect URL, then WithServers; tried in turn
	turn    int      // connection attempts so far (run goroutine only)
	opts    options
	events  chan Event
	notices chan Notice
	cmds    chan watchCmd
	ready   chan struct{} // closed at the first auth_ok
	done    chan struct{} // closed when run has returned and every goroutine has ended
	cancel  context.CancelFunc
	wg      sync.WaitGroup // every goroutine the client starts
	once    sync.Once

	mu    sync.Mutex // guards the fields below (run, the backfill and getters share them)
	state State
	err   error
	seen  *eventIDWindow
	// Position in a single stream (app sockets, or admin sockets with one partition).
	epoch   string
	lastSeq uint64
	hasSeq  bool
	// Admin sockets over K > 1 partitions: one epoch and seq per partition.
	epochs  []string
	seqs    []uint64
	hasSeqs []bool
	watched *watchSet
}

type watchCmd struct {
	unwatch bool
	ids     []string
	reply   chan int // buffered 1: run never blocks on a caller that gave up
}

// Connect starts a client and waits until its first socket is authenticated (or resuming), the
// close code of a refusal stops it (a *CloseError, errors.Is ErrUnauthorized and so on), or ctx
// ends. Network failures before that are retried with backoff while ctx allows. ctx bounds the
// connecting only; the client lives until Close.
func Connect(ctx context.Context, url string, opts ...Option) (*Client, error) {
	c, err := start(url, opts)
	if err != nil {
		return nil, err
	}
	select {
	case <-c.ready:
		return c, nil
	case <-c.done:
		return nil, c.Err()
	case <-ctx.Done():
		c.Close()
		return nil, ctx.Err()
	}
}

// start validates the options and starts the client's goroutine without waiting.
func start(url string, opts []Option) (*Client, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if url == "" {
		return nil, errors.New("smsws: Connect: empty url (want ws:// or wss://)")
	}
	if (o.apiKey == "") == (o.tokens == nil) {
		return nil, errors.New("smsws: Connect: give exactly one of WithAPIKey and WithTokenSource")
	}
	if o.historyURL == "" {
		o.historyURL = historyURLOf(url)
	}
	c := &Client{
		urls: append([]string{url}, o.servers...), opts: o,
		events:  make(chan Event, o.eventBuffer),
		notices: make(chan Notice, o.noticeBuffer),
		cmds:    make(chan watchCmd),
		ready:   make(chan struct{}),
		done:    make(chan struct{}),
		state:   StateConnecting,
		seen:    newEventIDWindow(o.dedupeWindow),
	}
	if o.filter != nil && o.filter.MessageIDs != nil {
		c.watched = newWatchSet(o.filter.MessageIDs)
	}
	switch {
	case len(o.resumeFrom) == 1:
		c.epoch, c.lastSeq, c.hasSeq = o.resumeFrom[0].Epoch, o.resumeFrom[0].Seq, true
	case len(o.resumeFrom) > 1:
		for _, p := range o.resumeFrom {
			c.epochs, c.seqs, c.hasSeqs = append(c.epochs, p.Epoch), append(c.seqs, p.Seq), append(c.hasSeqs, true)
		}
	}
	life, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.run(life)
	}()
	go func() { // closes the channels once nothing can send on them any more
		c.wg.Wait()
		close(c.events)
		close(c.notices)
		close(c.done)
	}()
	return c, nil
}

// Events delivers each event once, in order per scope. Closed after the client stops; then
// Err tells why. Not reading it holds the client back (see WithBuffers).
func (c *Client) Events() <-chan Event { return c.events }

// Notices delivers state changes and resume outcomes (StateChange, Resumed, ResumeFailed,
// Backfilled, ErrorNotice). Closed after the client stops. When full, new notices are dropped.
func (c *Client) Notices() <-chan Notice { return c.notices }

// Done is closed when the client has stopped and every goroutine it started has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the client stopped: a *CloseError (errors.Is ErrKicked, ErrUnauthorized,
// ErrForbidden, ErrBadRequest), or nil after Close or while it runs.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// State is the current state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Position is where the client is: one position, or one per partition (admin clients on a
// partitioned stream). nil until known. Store it and pass it to WithResumeFrom.
func (c *Client) Position() []Position {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.positionLocked()
}

func (c *Client) positionLocked() []Position {
	if len(c.epochs) > 0 {
		out := make([]Position, len(c.epochs))
		for i := range c.epochs {
			if !c.hasSeqs[i] {
				return nil // a partition with no position cannot be resumed exactly
			}
			out[i] = Position{Epoch: c.epochs[i], Seq: c.seqs[i]}
		}
		return out
	}
	if c.epoch != "" && c.hasSeq {
		return []Position{{Epoch: c.epoch, Seq: c.lastSeq}}
	}
	return nil
}

// Close closes the socket (1000), stops reconnecting, closes Events and Notices, and returns
// once every goroutine of the client has ended. Idempotent.
func (c *Client) Close() error {
	c.once.Do(c.cancel)
	<-c.done
	return nil
}

// Watch follows these messages too (the filter must have MessageIDs). Returns how many messages
// the server follows for this socket (watch_ok), or the client's own count when no socket is
// live: the set is sent again with every new socket, so watches survive reconnects.
func (c *Client) Watch(ctx context.Context, messageIDs ...string) (int, error) {
	return c.changeWatch(ctx, false, messageIDs)
}

// Unwatch stops following these messages; returns like Watch.
func (c *Client) Unwatch(ctx context.Context, messageIDs ...string) (int, error) {
	return c.changeWatch(ctx, true, messageIDs)
}

func (c *Client) changeWatch(ctx context.Context, unwatch bool, ids []string) (int, error) {
	if c.watched == nil {
		return 0, ErrNoWatch
	}
	for _, id := range ids {
		if id == "" {
			return 0, errors.New("smsws: watch: empty message id")
		}
	}
	cmd := watchCmd{unwatch: unwatch, ids: append([]string(nil), ids...), reply: make(chan int, 1)}
	select {
	case c.cmds <- cmd:
	case <-c.done:
		return 0, ErrClosed
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	select {
	case n := <-cmd.reply:
		return n, nil
	case <-c.done:
		return 0, ErrClosed
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// History reads one page of stored events over HTTP (GET /v1/events) with the client's
// credential (a fresh token from the TokenSource for a token client).
func (c *Client) History(ctx context.Context, q HistoryQuery) (*HistoryPage, error) {
	cred, err := c.credential(ctx)
	if err != nil {
		return nil, err
	}
	return fetchHistoryPage(ctx, c.opts.httpClient, c.opts.historyURL, cred, q)
}

// HistoryPages walks the pages from q until the newest (Next empty); an error ends the walk.
//
//	for page, err := range c.HistoryPages(ctx, smsws.HistoryQuery{Since: t}) { ... }
func (c *Client) HistoryPages(ctx context.Context, q HistoryQuery) iter.Seq2[*HistoryPage, error] {
	return pages(ctx, c.History, q)
}

func (c *Client) credential(ctx context.Context) (string, error) {
	if c.opts.tokens == nil {
		return c.opts.apiKey, nil
	}
	ctx, cancel := context.WithTimeout(ctx, tokenTimeout)
	defer cancel()
	tok, err := c.opts.tokens.Token(ctx)
	if err == nil && tok == "" {
		err = errors.New("the token source returned an empty token")
	}
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrTokenFetch, err)
	}
	return tok, nil
}

// ---- emitting (never blocks on notices; events wait for the reader or the end) ----

func (c *Client) notify(n Notice) {
	select {
	case c.notices <- n:
	default:
	}
}

func (c *Client) setState(s State, ch StateChange) {
	c.mu.Lock()
	prev := c.state
	if s == prev {
		c.mu.Unlock()
		return
	}
	c.state = s
	c.mu.Unlock()
	ch.State, ch.Previous = s, prev
	c.notify(ch)
}

// deliver passes an event through the window and updates the position; false for a duplicate
// or when the client is stopping.
func (c *Client) deliver(life context.Context, ev Event) bool {
	c.mu.Lock()
	if !c.seen.add(ev.EventID) {
		c.mu.Unlock()
		return false
	}
	if ev.HasSeq {
		if k := len(c.epochs); k > 0 {
			p := partitionOf(ev.TenantID, k)
			if !c.hasSeqs[p] || ev.Seq > c.seqs[p] {
				c.seqs[p], c.hasSeqs[p] = ev.Seq, true
			}
		} else if !c.hasSeq || ev.Seq > c.lastSeq {
			c.lastSeq, c.hasSeq = ev.Seq, true
		}
	}
	c.mu.Unlock()
	select {
	case c.events <- ev:
		return true
	case <-life.Done():
		return false
	}
}

func (c *Client) fail(err error, ch StateChange) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
	ch.Err = err
	c.setState(StateClosed, ch)
}

// authMessage is the first frame of a socket; a token goes where the seed puts the key.
// vector: positions of an admin socket on a partitioned stream (sent as resume.positions).
func authMessage(credential string, from []Position, vector bool, filter *Filter) []byte {
	m := map[string]any{"type": "auth", "apiKey": credential}
	switch {
	case vector && len(from) > 0:
		m["resume"] = map[string]any{"positions": from}
	case len(from) == 1:
		m["resume"] = from[0]
	}
	if filter != nil {
		f := map[string]any{}
		if filter.Types != nil {
			f["types"] = filter.Types
		}
		if filter.Statuses != nil {
			f["statuses"] = filter.Statuses
		}
		if filter.MessageIDs != nil {
			f["messageIds"] = filter.MessageIDs // [] means "nothing yet", so never omitted
		}
		m["filter"] = f
	}
	b, _ := json.Marshal(m)
	return b
}
