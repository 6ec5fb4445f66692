package publisher

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"
)

type vectors struct {
	Publisher struct {
		Valid []struct {
			Input          map[string]any  `json:"input"`
			Event          json.RawMessage `json:"event"`
			MsgpackHex     string          `json:"msgpackHex"`
			DurableSubject string          `json:"durableSubject"`
			LiveSubject    string          `json:"liveSubject"`
			MsgID          string          `json:"msgId"`
		} `json:"valid"`
		Invalid []struct {
			Input  map[string]any `json:"input"`
			Reason string         `json:"reason"`
		} `json:"invalid"`
		FieldMaxLength map[string]int `json:"fieldMaxLength"`
	} `json:"publisher"`
}

func load(t *testing.T) vectors {
	raw, err := os.ReadFile("../vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Publisher.Valid) == 0 || len(v.Publisher.Invalid) == 0 {
		t.Fatal("no publisher vectors")
	}
	return v
}

// orderedKeys reads a JSON object's keys in document order.
func orderedKeys(t *testing.T, raw json.RawMessage) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var skip any
		_ = dec.Decode(&skip)
	}
	return keys
}

func TestPublisherBytesEqualTheTypeScriptPublisher(t *testing.T) {
	v := load(t)
	for i, c := range v.Publisher.Valid {
		ev, err := Prepare(c.Input)
		if err != nil {
			t.Fatalf("valid %d: %v", i, err)
		}
		var want map[string]string
		_ = json.Unmarshal(c.Event, &want)
		if !reflect.DeepEqual(ev.Map(), want) || !reflect.DeepEqual(ev.Keys(), orderedKeys(t, c.Event)) {
			t.Errorf("valid %d: event %v (keys %v), want %s", i, ev.Map(), ev.Keys(), c.Event)
		}
		if got := hex.EncodeToString(Encode(ev)); got != c.MsgpackHex {
			t.Errorf("valid %d: bytes\n got  %s\n want %s", i, got, c.MsgpackHex)
		}
		if DurableSubject(ev) != c.DurableSubject || LiveSubject(ev) != c.LiveSubject || ev.Get("eventId") != c.MsgID {
			t.Errorf("valid %d: subjects %s %s", i, DurableSubject(ev), LiveSubject(ev))
		}
	}
	if !reflect.DeepEqual(v.Publisher.FieldMaxLength, FieldMaxLength) {
		t.Errorf("field caps %v, vectors say %v", FieldMaxLength, v.Publisher.FieldMaxLength)
	}
}

func TestPublisherRefusesWhatANodeDrops(t *testing.T) {
	for i, c := range load(t).Publisher.Invalid {
		_, err := Prepare(c.Input)
		var ie *InvalidEventError
		if !errors.As(err, &ie) || ie.Reason != c.Reason || !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("invalid %d (%v): %v, want reason %s", i, c.Input["type"], err, c.Reason)
		}
	}
}

func TestPrepareFillsEventIDAndTimestamp(t *testing.T) {
	ev, err := Prepare(Status{MessageID: "m1", AppID: "a1", TenantID: "t1", Status: "sent"}.input())
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Get("eventId")) != 36 || len(ev.Get("timestamp")) != 24 {
		t.Fatalf("filled %v", ev.Map())
	}
	other, _ := Prepare(Status{MessageID: "m1", AppID: "a1", TenantID: "t1", Status: "sent"}.input())
	if other.Get("eventId") == ev.Get("eventId") {
		t.Fatal("two events got the same eventId")
	}
}
