package smsws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// HistoryQuery selects one page of GET /v1/events: after a position or a Next cursor
// (exclusive), since a time, or neither for the newest events. Limit 1..1000 (0: server default 100).
type HistoryQuery struct {
	After     string // a cursor "<epoch>:<seq>" (HistoryPage.Next, or Position.Cursor())
	Since     time.Time
	Limit     int
	Partition *int // admin credentials on a partitioned stream
	Filter    Filter
}

// Cursor is the position as a history cursor.
func (p Position) Cursor() string { return p.Epoch + ":" + strconv.FormatUint(p.Seq, 10) }

// HistoryPage is one page, oldest first; Next is "" when nothing more exists now.
type HistoryPage struct {
	Epoch  string
	Events []Event
	Next   string
}

const maxHistoryBody = 32 << 20

// historyURLOf: ws(s)://host/ws -> http(s)://host/v1/events; "" when it does not parse.
func historyURLOf(wsURL string) string {
	u, err := url.Parse(wsURL)
	if err != nil || u.Host == "" {
		return ""
	}
	switch u.Scheme {
	case "wss":
		u.Scheme = "https"
	case "ws":
		u.Scheme = "http"
	}
	u.Path, u.RawQuery, u.Fragment = "/v1/events", "", ""
	return u.String()
}

func (q HistoryQuery) values() (url.Values, error) {
	v := url.Values{}
	if q.After != "" && !q.Since.IsZero() {
		return nil, errors.New("smsws: history: give After or Since, not both")
	}
	if q.After != "" {
		v.Set("after", q.After)
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Partition != nil {
		v.Set("partition", strconv.Itoa(*q.Partition))
	}
	if q.Filter.Types != nil {
		v.Set("types", strings.Join(q.Filter.Types, ","))
	}
	if q.Filter.Statuses != nil {
		v.Set("statuses", strings.Join(q.Filter.Statuses, ","))
	}
	if q.Filter.MessageIDs != nil {
		v.Set("messageIds", strings.Join(q.Filter.MessageIDs, ","))
	}
	return v, nil
}

// fetchHistoryPage requests one page with the credential as a bearer token.
func fetchHistoryPage(ctx context.Context, hc *http.Client, endpoint, credential string, q HistoryQuery) (*HistoryPage, error) {
	if endpoint == "" {
		return nil, &HistoryError{Message: "no endpoint (use WithHistoryURL)"}
	}
	values, err := q.values()
	if err != nil {
		return nil, err
	}
	target := endpoint
	if len(values) > 0 {
		target += "?" + values.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, &HistoryError{Message: "bad request: " + err.Error(), Cause: err}
	}
	req.Header.Set("Authorization", "Bearer "+credential)
	res, err := hc.Do(req)
	if err != nil {
		return nil, &HistoryError{Message: "request failed: " + err.Error(), Cause: err}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxHistoryBody))
	if err != nil {
		return nil, &HistoryError{Status: res.StatusCode, Message: "reading the answer: " + err.Error(), Cause: err}
	}
	if res.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		msg := string(body[:min(len(body), 200)])
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return nil, &HistoryError{Status: res.StatusCode, Message: msg}
	}
	var raw struct {
		Epoch  *string           `json:"epoch"`
		Events []json.RawMessage `json:"events"`
		Next   *string           `json:"next"`
	}
	if err := json.Unmarshal(body, &raw); err != nil || raw.Epoch == nil || raw.Events == nil {
		return nil, &HistoryError{Status: 200, Message: "malformed page"}
	}
	page := &HistoryPage{Epoch: *raw.Epoch, Events: make([]Event, 0, len(raw.Events))}
	if raw.Next != nil {
		page.Next = *raw.Next
	}
	for i, r := range raw.Events {
		f := parseServerFrame(r)
		if f.kind != frameEvent {
			return nil, &HistoryError{Status: 200, Message: fmt.Sprintf("malformed event %d: %s", i, f.problem)}
		}
		page.Events = append(page.Events, f.event)
	}
	return page, nil
}

// BackfillResult is what a backfill after resume_failed (retention) recovered and what it could not.
type BackfillResult struct {
	From      Position
	Recovered int
	// LostBefore: the scope's events with From.Seq < seq < LostBefore.Seq were deleted by the
	// stream's retention. nil when the stream held none of the scope's events.
	LostBefore *Position
	// Err is set when the backfill stopped early (events after the last recovered may be missing).
	Err error
}

// backfillMaxPages bounds the pages one backfill reads (at 1000 events each).
const backfillMaxPages = 1000

// runBackfill pages through everything the stream still holds for the scope, oldest first,
// handing each event to deliver (which returns false for a duplicate).
func runBackfill(ctx context.Context, page func(context.Context, HistoryQuery) (*HistoryPage, error), from Position, deliver func(Event) bool) BackfillResult {
	res := BackfillResult{From: from}
	q := HistoryQuery{Since: time.Unix(0, 0), Limit: 1000}
	for n := 0; n < backfillMaxPages; n++ {
		p, err := page(ctx, q)
		if err != nil {
			res.Err = err
			return res
		}
		if p.Epoch != from.Epoch {
			res.Err = &HistoryError{Status: 200, Message: "the stream was re-created during the backfill"}
			return res
		}
		for _, ev := range p.Events {
			if res.LostBefore == nil && ev.HasSeq {
				res.LostBefore = &Position{Epoch: p.Epoch, Seq: ev.Seq}
			}
			if deliver(ev) {
				res.Recovered++
			}
		}
		if p.Next == "" {
			return res
		}
		q = HistoryQuery{After: p.Next, Limit: 1000}
	}
	return res
}

// pages walks pages from q until Next is empty or an error (yielded once, last).
func pages(ctx context.Context, page func(context.Context, HistoryQuery) (*HistoryPage, error), q HistoryQuery) iter.Seq2[*HistoryPage, error] {
	return func(yield func(*HistoryPage, error) bool) {
		for {
			p, err := page(ctx, q)
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(p, nil) || p.Next == "" {
				return
			}
			q.After, q.Since = p.Next, time.Time{}
		}
	}
}
