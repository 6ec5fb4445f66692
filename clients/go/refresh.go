package smsws

import (
	"encoding/json"
	"math"
	"time"
)

// When a token socket refreshes its token (same rule as src/client/token-refresh.ts): a margin
// before exp of min(60 s, 10 % of the time left), plus up to one more margin of jitter; a floor
// that doubles (5 s .. 5 min) when the local clock says "already expired" again and again.
const (
	refreshMargin       = 60 * time.Second
	refreshMarginRatio  = 0.1
	minRefreshDelay     = 5 * time.Second
	maxRefreshFloor     = 300 * time.Second
	tokenTimeout        = 30 * time.Second
	tokenRetryInitial   = time.Second
	tokenRetryMax       = 30 * time.Second
	heartbeatCloseCode  = 4000
	writeTimeout        = 10 * time.Second
	maxServerFrameBytes = 1 << 20
)

type refreshPlan struct {
	delay     time.Duration
	nextFloor time.Duration
}

func planRefresh(exp, now time.Time, floor time.Duration, random func() float64) refreshPlan {
	left := float64(exp.Sub(now))
	margin := math.Min(float64(refreshMargin), math.Max(0, left*refreshMarginRatio))
	r := math.Min(math.Max(random(), 0), 1)
	wanted := time.Duration(math.Floor(left - margin - r*margin))
	if wanted > floor {
		return refreshPlan{delay: wanted, nextFloor: minRefreshDelay}
	}
	return refreshPlan{delay: floor, nextFloor: min(floor*2, maxRefreshFloor)}
}

// ---- token refresh -------------------------------------------------------------------------

func (s *session) scheduleRefresh(expSeconds float64) {
	s.stopRefresh()
	s.exp = time.UnixMilli(int64(expSeconds * 1000))
	s.refreshFails = 0
	plan := planRefresh(s.exp, s.c.opts.now(), s.refreshFloor, s.c.opts.random)
	s.refreshFloor = plan.nextFloor
	s.refreshTimer = time.NewTimer(plan.delay)
}

func (s *session) stopRefresh() {
	if s.refreshTimer != nil {
		s.refreshTimer.Stop()
		s.refreshTimer = nil
	}
}

// startRefresh fetches the next token off the loop; the answer comes back on tokenResults.
func (s *session) startRefresh() {
	if s.refreshing {
		return
	}
	s.refreshing = true
	s.helpers.Add(1)
	go func() {
		defer s.helpers.Done()
		tok, err := s.c.credential(s.socketCtx)
		s.tokenResults <- tokenResult{tok, err} // buffered 1, one fetch at a time
	}()
}

// onRefreshToken sends the token on the same socket; refresh_ok schedules the next one. A
// failure is retried with backoff until the token expires; then the server's 4419 brings a
// reconnect, which asks the TokenSource again.
func (s *session) onRefreshToken(tr tokenResult) {
	c := s.c
	if tr.err == nil {
		b, _ := json.Marshal(map[string]string{"type": "refresh", "token": tr.token})
		_ = s.send(b) // on failure the socket is closing; its close decides
		return
	}
	if s.life.Err() != nil {
		return
	}
	c.notify(ErrorNotice{Err: tr.err})
	left := s.exp.Sub(c.opts.now())
	if left <= 0 {
		return
	}
	retry := Backoff{Initial: tokenRetryInitial, Max: tokenRetryMax}.Delay(s.refreshFails, c.opts.random)
	s.refreshFails++
	s.refreshTimer = time.NewTimer(min(retry, left))
}
