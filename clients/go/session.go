package smsws

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// run is the client's one owner goroutine: sockets one after another until a stop.
func (c *Client) run(life context.Context) {
	attempt := 0
	var disconnectedAt time.Time
	everAuthenticated := false
	for {
		s := &session{c: c, life: life, attempt: &attempt, disconnectedAt: &disconnectedAt, everAuthenticated: &everAuthenticated}
		code, reason := s.run()
		ch := StateChange{CloseCode: code, CloseReason: reason}
		if life.Err() != nil {
			c.setState(StateClosed, ch)
			return
		}
		act := actionFor(code)
		if act.Kind == "stop" {
			if s.authError != "" {
				reason = s.authError
			}
			c.fail(&CloseError{Code: code, Reason: reason, ErrorCode: act.Error}, ch)
			return
		}
		if act.Error != "" {
			c.notify(ErrorNotice{Err: &CloseError{Code: code, Reason: reason, ErrorCode: act.Error}})
		}
		// 4419 (token expired) asks for a fresh credential: every connection fetches one anyway,
		// so it is an ordinary reconnect and resume.
		if !c.opts.reconnect {
			c.fail(&CloseError{Code: code, Reason: reason, ErrorCode: act.Error}, ch)
			return
		}
		delay := c.opts.backoff.Delay(attempt, c.opts.random)
		attempt++
		ch.Attempt, ch.Delay = attempt, delay
		c.setState(StateReconnecting, ch)
		if !c.waitOut(life, delay) {
			c.setState(StateClosed, StateChange{})
			return
		}
	}
}

// waitOut sleeps through the backoff delay, still answering watch commands (from the set alone).
func (c *Client) waitOut(life context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return true
		case <-life.Done():
			return false
		case cmd := <-c.cmds:
			c.applyWatch(cmd)
			cmd.reply <- c.watched.size()
		}
	}
}

func (c *Client) applyWatch(cmd watchCmd) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cmd.unwatch {
		return c.watched.remove(cmd.ids)
	}
	return c.watched.add(cmd.ids)
}

type readResult struct {
	typ  websocket.MessageType
	data []byte
	err  error
}

type tokenResult struct {
	token string
	err   error
}

// session is one socket's life.
type session struct {
	c                 *Client
	life              context.Context
	attempt           *int
	disconnectedAt    *time.Time
	everAuthenticated *bool

	ws *websocket.Conn
	// socketCtx ends with the socket: a token fetch for a refresh does not outlive it.
	socketCtx     context.Context
	resumeFrom    []Position
	resumeSettled bool
	authenticated bool
	authError     string
	exp           time.Time
	refreshFloor  time.Duration
	refreshFails  int
	refreshTimer  *time.Timer
	refreshing    bool
	tokenResults  chan tokenResult
	watchAnswers  []chan int // one per watch/unwatch frame sent; nil entries expect no caller
	helpers       sync.WaitGroup
}

// run returns the close code and reason of the socket (1006 when it never opened or broke).
func (s *session) run() (int, string) {
	c := s.c
	c.setState(StateConnecting, StateChange{})
	credential, err := c.credential(s.life)
	if err != nil {
		if s.life.Err() != nil {
			return 1000, "client closed"
		}
		c.notify(ErrorNotice{Err: err})
		return 1006, "token source failed"
	}
	tenant := c.opts.tenantHint
	if tenant == "" && c.opts.tokens != nil {
		tenant = tokenTenant(credential)
	}
	base := c.urls[c.turn%len(c.urls)]
	c.turn++
	target := routedURL(base, tenant, c.opts.tenantSlots, c.opts.random)
	dialCtx, cancelDial := context.WithTimeout(s.life, 30*time.Second)
	ws, _, err := websocket.Dial(dialCtx, target, nil)
	cancelDial()
	if err != nil {
		return 1006, "dial failed: " + err.Error()
	}
	s.ws = ws
	ws.SetReadLimit(maxServerFrameBytes)

	// The reader's context is not the client's: cancelling a Read closes the socket abruptly,
	// and a Close of the client should send 1000 first (below).
	readCtx, stopReader := context.WithCancel(context.Background())
	frames := make(chan readResult)
	s.helpers.Add(1)
	go func() {
		defer s.helpers.Done()
		for {
			typ, data, err := ws.Read(readCtx)
			select {
			case frames <- readResult{typ, data, err}:
			case <-readCtx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	s.tokenResults = make(chan tokenResult, 1)
	s.refreshFloor = minRefreshDelay
	socketCtx, endSocket := context.WithCancel(s.life)
	s.socketCtx = socketCtx
	defer func() {
		s.stopRefresh()
		endSocket()
		stopReader()
		ws.CloseNow()
		s.helpers.Wait()
		s.settleWatches()
		if s.authenticated && s.disconnectedAt.IsZero() {
			*s.disconnectedAt = c.opts.now()
		}
	}()

	if err := s.sendAuth(credential); err != nil {
		return 1006, "sending auth: " + err.Error()
	}

	var watchdog <-chan time.Time
	var dog *time.Timer
	if c.opts.pingInterval > 0 {
		dog = time.NewTimer(2 * c.opts.pingInterval)
		defer dog.Stop()
		watchdog = dog.C
	}
	for {
		var refresh <-chan time.Time
		if s.refreshTimer != nil {
			refresh = s.refreshTimer.C
		}
		select {
		case <-s.life.Done():
			ws.Close(websocket.StatusNormalClosure, "client closed")
			return 1000, "client closed"
		case r := <-frames:
			if r.err != nil {
				return closeOf(r.err)
			}
			if dog != nil {
				dog.Reset(2 * c.opts.pingInterval)
			}
			if r.typ == websocket.MessageText {
				s.onFrame(r.data)
			}
			if s.life.Err() != nil {
				ws.Close(websocket.StatusNormalClosure, "client closed")
				return 1000, "client closed"
			}
		case <-watchdog:
			// Two ping intervals without a frame: the peer or the path is dead, and a dead TCP
			// connection can take minutes to say so. Drop the socket and reconnect now.
			return heartbeatCloseCode, "heartbeat timeout"
		case <-refresh:
			s.refreshTimer = nil
			s.startRefresh()
		case tr := <-s.tokenResults:
			s.refreshing = false
			s.onRefreshToken(tr)
		case cmd := <-c.cmds:
			s.onWatch(cmd)
		}
	}
}

func closeOf(err error) (int, string) {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return int(ce.Code), ce.Reason
	}
	return 1006, err.Error()
}

func (s *session) send(b []byte) error {
	ctx, cancel := context.WithTimeout(s.life, writeTimeout)
	defer cancel()
	return s.ws.Write(ctx, websocket.MessageText, b)
}

func (s *session) sendAuth(credential string) error {
	c := s.c
	c.mu.Lock()
	var from []Position
	if c.opts.resume {
		from = c.positionLocked()
	}
	vector := len(c.epochs) > 0
	filter := c.opts.filter
	var extra [][]byte
	if c.watched != nil {
		f, frames := c.watched.authPlan(*filter)
		filter, extra = &f, frames
	}
	c.mu.Unlock()
	s.resumeFrom = from
	if err := s.send(authMessage(credential, from, vector, filter)); err != nil {
		return err
	}
	// Followed messages beyond the auth message's share go right behind it, before any replay.
	for _, f := range extra {
		if err := s.send(f); err != nil {
			return err
		}
		s.watchAnswers = append(s.watchAnswers, nil)
	}
	if from != nil {
		c.setState(StateResuming, StateChange{})
	} else {
		c.setState(StateAuthenticating, StateChange{})
	}
	return nil
}

func (s *session) onFrame(data []byte) {
	c := s.c
	f := parseServerFrame(data)
	switch f.kind {
	case framePing, frameUnknown: // unknown types: forward compatibility
	case frameInvalid:
		c.notify(ErrorNotice{Err: fmt.Errorf("%w: dropped: %s", ErrInvalidFrame, f.problem)})
	case frameAuthError:
		s.authError = f.errText
	case frameAuthOK:
		if s.authenticated {
			return
		}
		if f.exp > 0 && c.opts.tokens != nil {
			s.scheduleRefresh(f.exp)
		}
		s.onAuthOK(f.epoch, f.epochs)
	case frameRefreshOK:
		if s.authenticated && c.opts.tokens != nil {
			s.scheduleRefresh(f.exp)
		}
	case frameResumed:
		if s.resumeFrom == nil || s.resumeSettled {
			return
		}
		s.resumeSettled = true
		*s.disconnectedAt = time.Time{}
		c.notify(Resumed{Replayed: f.replayed, From: s.resumeFrom})
		c.setState(StateLive, StateChange{})
	case frameResumeFailed:
		if s.resumeFrom == nil || s.resumeSettled {
			return
		}
		s.resumeFailed(f.reason)
	case frameEvent:
		c.deliver(s.life, f.event)
	case frameWatchOK:
		if len(s.watchAnswers) > 0 {
			answer := s.watchAnswers[0]
			s.watchAnswers = s.watchAnswers[1:]
			if answer != nil {
				answer <- int(f.count)
			}
		}
	}
}

func (s *session) onAuthOK(epoch string, epochs []string) {
	c := s.c
	s.authenticated = true
	*s.attempt = 0
	c.mu.Lock()
	switch {
	case len(epochs) > 0:
		// Admin socket on K partitions: a partition whose epoch changed loses its position.
		if len(c.epochs) != len(epochs) {
			c.seqs, c.hasSeqs = make([]uint64, len(epochs)), make([]bool, len(epochs))
		}
		for i, e := range epochs {
			if i < len(c.epochs) && c.epochs[i] != e {
				c.seqs[i], c.hasSeqs[i] = 0, false
			}
		}
		c.epochs = slices.Clone(epochs)
		c.epoch, c.hasSeq = "", false
	case epoch != "" && epoch != c.epoch:
		// A new stream incarnation: sequences of the old one mean nothing in it.
		c.epoch, c.hasSeq, c.lastSeq = epoch, false, 0
		c.epochs, c.seqs, c.hasSeqs = nil, nil, nil
	}
	c.mu.Unlock()
	isReconnect := *s.everAuthenticated
	*s.everAuthenticated = true
	select {
	case <-c.ready:
	default:
		close(c.ready)
	}
	if s.resumeFrom != nil {
		// No epoch: this node has no durable stream, so no replay and no resumed/resume_failed.
		if epoch == "" && len(epochs) == 0 {
			s.resumeFailed("unavailable")
		}
		return // otherwise stay resuming until the server says how the replay went
	}
	if isReconnect && c.opts.resume {
		s.resumeFailed("no_position") // the earlier sockets never saw an event with a seq
		return
	}
	*s.disconnectedAt = time.Time{}
	c.setState(StateLive, StateChange{})
}

// resumeFailed tells the application events may have been missed, then goes live.
func (s *session) resumeFailed(reason string) {
	c := s.c
	s.resumeSettled = true
	n := ResumeFailed{Reason: reason, From: s.resumeFrom, DisconnectedAt: *s.disconnectedAt}
	*s.disconnectedAt = time.Time{}
	c.notify(n)
	c.setState(StateLive, StateChange{})
	if reason == "retention" && c.opts.backfill && len(s.resumeFrom) == 1 {
		c.startBackfill(s.life, s.resumeFrom[0])
	}
}

// startBackfill runs on its own goroutine (tracked by the client's WaitGroup) so live events
// keep flowing; both deliver through the same window.
func (c *Client) startBackfill(life context.Context, from Position) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		res := runBackfill(life, c.History, from, func(ev Event) bool { return c.deliver(life, ev) })
		if life.Err() == nil {
			c.notify(Backfilled{res})
		}
	}()
}

func (s *session) onWatch(cmd watchCmd) {
	c := s.c
	changed := c.applyWatch(cmd)
	if len(changed) == 0 { // the session loop runs only after the auth message went out
		cmd.reply <- c.watched.size()
		return
	}
	typ := "watch"
	if cmd.unwatch {
		typ = "unwatch"
	}
	frames := watchFrames(typ, changed)
	for i, f := range frames {
		if s.send(f) != nil {
			cmd.reply <- c.watched.size() // the socket is closing: the next one carries the set
			return
		}
		if i == len(frames)-1 {
			s.watchAnswers = append(s.watchAnswers, cmd.reply)
		} else {
			s.watchAnswers = append(s.watchAnswers, nil)
		}
	}
}

// settleWatches: watches a gone socket never answered get the client's own count.
func (s *session) settleWatches() {
	for _, a := range s.watchAnswers {
		if a != nil {
			a <- s.c.watched.size()
		}
	}
	s.watchAnswers = nil
}
