package smsws

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// The conformance vectors (conformance/vectors.json, generated from the TypeScript sources)
// drive these tests; the same file drives the TypeScript and Python SDKs' tests.

type vectorFile struct {
	CloseCodes []struct {
		Name   string      `json:"name"`
		Code   int         `json:"code"`
		Action closeAction `json:"action"`
	} `json:"closeCodes"`
	Refusals []struct {
		Name   string      `json:"name"`
		Code   int         `json:"code"`
		Reason string      `json:"reason"`
		Action closeAction `json:"action"`
	} `json:"refusals"`
	Defaults     map[string]any `json:"defaults"`
	ServerFrames []struct {
		Name   string         `json:"name"`
		Frame  string         `json:"frame"`
		Parsed map[string]any `json:"parsed"`
	} `json:"serverFrames"`
	Sessions []sessionVector `json:"sessions"`
	Backoff  []struct {
		Attempt int     `json:"attempt"`
		Initial float64 `json:"initialDelayMs"`
		Max     float64 `json:"maxDelayMs"`
		Random  float64 `json:"random"`
		DelayMs float64 `json:"delayMs"`
	} `json:"backoff"`
	Refresh []struct {
		ExpMs   int64   `json:"expMs"`
		NowMs   int64   `json:"nowMs"`
		FloorMs int64   `json:"floorMs"`
		Random  float64 `json:"random"`
		Plan    struct {
			DelayMs     int64 `json:"delayMs"`
			NextFloorMs int64 `json:"nextFloorMs"`
		} `json:"plan"`
	} `json:"refresh"`
	Routing struct {
		TokenTenant []struct {
			Token    string  `json:"token"`
			TenantID *string `json:"tenantId"`
		} `json:"tokenTenant"`
		RoutedURL []struct {
			URL      string  `json:"url"`
			TenantID *string `json:"tenantId"`
			Slots    int     `json:"slots"`
			Random   float64 `json:"random"`
			Routed   string  `json:"routed"`
		} `json:"routedUrl"`
	} `json:"routing"`
	Dedupe struct {
		Capacity int      `json:"capacity"`
		IDs      []string `json:"ids"`
		Added    []bool   `json:"added"`
	} `json:"dedupe"`
	History struct {
		URLs []struct {
			WS   string `json:"ws"`
			HTTP string `json:"http"`
		} `json:"urls"`
		Queries []struct {
			Query       json.RawMessage `json:"query"`
			QueryString string          `json:"queryString"`
		} `json:"queries"`
	} `json:"history"`
	WatchFrames struct {
		IDs     int      `json:"ids"`
		Watch   []string `json:"watch"`
		Unwatch []string `json:"unwatch"`
	} `json:"watchFrames"`
}

func loadVectors(t *testing.T) vectorFile {
	t.Helper()
	var v vectorFile
	if err := json.Unmarshal(vectorsJSON, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestEmbeddedVectorsAreCurrent(t *testing.T) {
	repo, err := os.ReadFile("../../conformance/vectors.json")
	if err != nil {
		t.Fatalf("conformance/vectors.json: %v (run the tests inside the repository)", err)
	}
	if !bytes.Equal(repo, vectorsJSON) {
		t.Fatal("clients/go/vectors.json differs from conformance/vectors.json: run `go generate` in clients/go")
	}
}

func TestVectorCloseCodesAndRefusals(t *testing.T) {
	v := loadVectors(t)
	if len(v.CloseCodes) == 0 || len(v.Refusals) == 0 {
		t.Fatal("no close-code vectors")
	}
	for _, c := range v.CloseCodes {
		if got := actionFor(c.Code); got != c.Action {
			t.Errorf("%s (%d): %+v, want %+v", c.Name, c.Code, got, c.Action)
		}
		if c.Action.Kind == "stop" && !errors.Is(&CloseError{Code: c.Code, ErrorCode: c.Action.Error}, sentinelOf[c.Action.Error]) {
			t.Errorf("%d: no sentinel", c.Code)
		}
	}
	for _, r := range v.Refusals {
		if got := actionFor(r.Code); got != r.Action {
			t.Errorf("refusal %s (%d %q): %+v, want %+v", r.Name, r.Code, r.Reason, got, r.Action)
		}
	}
	if got := actionFor(1006); got.Kind != "reconnect" {
		t.Errorf("1006: %+v", got)
	}
}

func TestVectorDefaults(t *testing.T) {
	d, o := loadVectors(t).Defaults, defaultOptions()
	ms := func(x time.Duration) float64 { return float64(x / time.Millisecond) }
	checks := map[string]float64{
		"initialDelayMs": ms(o.backoff.Initial), "maxDelayMs": ms(o.backoff.Max), "pingIntervalMs": ms(o.pingInterval),
		"dedupeWindow": float64(o.dedupeWindow), "tokenTimeoutMs": ms(tokenTimeout), "tokenRetryInitialDelayMs": ms(tokenRetryInitial),
		"tokenRetryMaxDelayMs": ms(tokenRetryMax), "refreshMarginMs": ms(refreshMargin), "refreshMarginRatio": refreshMarginRatio,
		"minRefreshDelayMs": ms(minRefreshDelay), "maxRefreshFloorMs": ms(maxRefreshFloor),
	}
	for k, want := range d {
		if k == "resume" {
			if want != o.resume {
				t.Errorf("default resume: %v, vectors say %v", o.resume, want)
			}
			continue
		}
		got, ok := checks[k]
		if !ok || got != want.(float64) {
			t.Errorf("default %s: %v, vectors say %v", k, got, want)
		}
	}
}

// frameAsVector renders a parsed frame like the TS parser's tagged result.
func frameAsVector(f serverFrame) map[string]any {
	m := map[string]any{"type": string(f.kind)}
	switch f.kind {
	case frameAuthOK:
		if f.epoch != "" {
			m["epoch"] = f.epoch
		}
		if f.epochs != nil {
			m["epochs"] = toAny(f.epochs)
		}
		if f.exp != 0 {
			m["exp"] = f.exp
		}
	case frameRefreshOK:
		m["exp"] = f.exp
	case frameAuthError:
		m["error"] = f.errText
	case frameResumed:
		m["replayed"] = float64(f.replayed)
	case frameResumeFailed:
		m["reason"] = f.reason
	case frameWatchOK:
		m["count"], m["ignored"] = float64(f.count), float64(f.ignored)
	case frameUnknown:
		m["name"] = f.name
	case frameInvalid:
		m["problem"] = f.problem
	case frameEvent:
		b, _ := json.Marshal(f.event)
		var ev map[string]any
		_ = json.Unmarshal(b, &ev)
		if f.event.HasSeq {
			ev["seq"] = float64(f.event.Seq)
		}
		m["event"] = ev
	}
	return m
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func TestVectorServerFrames(t *testing.T) {
	v := loadVectors(t)
	if len(v.ServerFrames) < 10 {
		t.Fatalf("only %d frame vectors", len(v.ServerFrames))
	}
	for _, f := range v.ServerFrames {
		got := frameAsVector(parseServerFrame([]byte(f.Frame)))
		want := f.Parsed
		if _, ok := want["epochs"]; !ok {
			// The TS parser ignores epochs; the Go client reads them (admin sockets on K > 1
			// partitions resume with positions, docs/partitioning.md).
			delete(got, "epochs")
		}
		if want["type"] == "event" {
			// Unknown extra fields pass through in TS; the Go struct keeps the protocol's own.
			ev := want["event"].(map[string]any)
			for k := range ev {
				if _, known := got["event"].(map[string]any)[k]; !known && k != "seq" {
					delete(ev, k)
				}
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %s\n got  %v\n want %v", f.Name, f.Frame, got, want)
		}
	}
}

func TestVectorBackoffRefreshRoutingDedupe(t *testing.T) {
	v := loadVectors(t)
	for _, b := range v.Backoff {
		got := Backoff{Initial: time.Duration(b.Initial) * time.Millisecond, Max: time.Duration(b.Max) * time.Millisecond}.
			Delay(b.Attempt, func() float64 { return b.Random })
		if got != time.Duration(b.DelayMs)*time.Millisecond {
			t.Errorf("backoff %+v: %v", b, got)
		}
	}
	for _, r := range v.Refresh {
		p := planRefresh(time.UnixMilli(r.ExpMs), time.UnixMilli(r.NowMs), time.Duration(r.FloorMs)*time.Millisecond, func() float64 { return r.Random })
		if p.delay != time.Duration(r.Plan.DelayMs)*time.Millisecond || p.nextFloor != time.Duration(r.Plan.NextFloorMs)*time.Millisecond {
			t.Errorf("refresh %+v: %+v", r, p)
		}
	}
	for _, tt := range v.Routing.TokenTenant {
		want := ""
		if tt.TenantID != nil {
			want = *tt.TenantID
		}
		if got := tokenTenant(tt.Token); got != want {
			t.Errorf("tokenTenant(%s) = %q, want %q", tt.Token, got, want)
		}
	}
	for _, r := range v.Routing.RoutedURL {
		tenant := ""
		if r.TenantID != nil {
			tenant = *r.TenantID
		}
		if got := routedURL(r.URL, tenant, r.Slots, func() float64 { return r.Random }); got != r.Routed {
			t.Errorf("routedURL(%s, %s, %d, %v) = %s, want %s", r.URL, tenant, r.Slots, r.Random, got, r.Routed)
		}
	}
	w := newEventIDWindow(v.Dedupe.Capacity)
	for i, id := range v.Dedupe.IDs {
		if got := w.add(id); got != v.Dedupe.Added[i] {
			t.Errorf("dedupe step %d (%s): %v", i, id, got)
		}
	}
}

func TestVectorHistoryAndWatchFrames(t *testing.T) {
	v := loadVectors(t)
	for _, u := range v.History.URLs {
		if got := historyURLOf(u.WS); got != u.HTTP {
			t.Errorf("historyURLOf(%s) = %s, want %s", u.WS, got, u.HTTP)
		}
	}
	for _, q := range v.History.Queries {
		var raw struct {
			After  json.RawMessage `json:"after"`
			Since  string          `json:"since"`
			Limit  int             `json:"limit"`
			Filter Filter          `json:"filter"`
		}
		if err := json.Unmarshal(q.Query, &raw); err != nil {
			t.Fatal(err)
		}
		hq := HistoryQuery{Limit: raw.Limit, Filter: raw.Filter}
		if len(raw.After) > 0 {
			var p Position
			if json.Unmarshal(raw.After, &p) == nil && p.Epoch != "" {
				hq.After = p.Cursor()
			} else {
				_ = json.Unmarshal(raw.After, &hq.After)
			}
		}
		if raw.Since != "" {
			hq.Since, _ = time.Parse(time.RFC3339, raw.Since)
		}
		got, err := hq.values()
		if err != nil {
			t.Fatal(err)
		}
		// Same parameters and values; Go's url.Values encodes them in key order.
		want, _ := url.ParseQuery(q.QueryString)
		if raw.Since != "" {
			want.Set("since", hq.Since.UTC().Format(time.RFC3339Nano))
		}
		if !reflect.DeepEqual(map[string][]string(got), map[string][]string(want)) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("query %s: %v, want %v", q.Query, got, want)
		}
	}
	var ids []string
	for i := 0; i < v.WatchFrames.IDs; i++ {
		ids = append(ids, "m"+strconv.Itoa(i))
	}
	for typ, want := range map[string][]string{"watch": v.WatchFrames.Watch, "unwatch": v.WatchFrames.Unwatch} {
		in := ids
		if typ == "unwatch" {
			in = []string{"m1"} // the generator's unwatch case
		}
		var got []string
		for _, f := range watchFrames(typ, in) {
			got = append(got, string(f))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s frames differ:\n got  %v\n want %v", typ, got, want)
		}
	}
}

func TestVersionMatchesVectors(t *testing.T) {
	var v struct {
		SDKVersion string `json:"sdkVersion"`
	}
	if err := json.Unmarshal(vectorsJSON, &v); err != nil || v.SDKVersion != Version {
		t.Fatalf("smsws.Version %s, vectors say %q (%v)", Version, v.SDKVersion, err)
	}
}
