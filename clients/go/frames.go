package smsws

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// frameKind is what a server text frame means. Unknown types are ignored (forward
// compatibility); events missing a required field are invalid and never reach the application.
type frameKind string

const (
	frameAuthOK       frameKind = "auth_ok"
	frameRefreshOK    frameKind = "refresh_ok"
	frameAuthError    frameKind = "auth_error"
	frameResumed      frameKind = "resumed"
	frameResumeFailed frameKind = "resume_failed"
	frameWatchOK      frameKind = "watch_ok"
	framePing         frameKind = "ping"
	frameEvent        frameKind = "event"
	frameUnknown      frameKind = "unknown"
	frameInvalid      frameKind = "invalid"
)

type serverFrame struct {
	kind     frameKind
	epoch    string   // auth_ok
	epochs   []string // auth_ok of an admin socket over several partitions
	exp      float64  // auth_ok (0: none), refresh_ok
	errText  string   // auth_error
	replayed int64    // resumed
	reason   string   // resume_failed
	count    int64    // watch_ok
	ignored  int64    // watch_ok
	event    Event
	name     string // unknown
	problem  string // invalid
}

var requiredFields = map[string][]string{
	TypeStatus:  {"eventId", "messageId", "appId", "tenantId", "status", "timestamp"},
	TypeInbound: {"eventId", "messageId", "from", "to", "body", "tenantId", "timestamp"},
}

var optionalFields = map[string][]string{
	TypeStatus:  {"rcMessageId", "error"},
	TypeInbound: {"rcMessageId", "appId"},
}

// parseServerFrame never fails: what it cannot read is frameInvalid with the problem.
func parseServerFrame(text []byte) serverFrame {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var value any
	if err := dec.Decode(&value); err != nil || dec.More() {
		return serverFrame{kind: frameInvalid, problem: "frame is not valid JSON"}
	}
	o, ok := value.(map[string]any)
	if !ok {
		return serverFrame{kind: frameInvalid, problem: "frame is not a JSON object"}
	}
	typ, _ := o["type"].(string)
	switch typ {
	case "ping":
		return serverFrame{kind: framePing}
	case "auth_ok":
		f := serverFrame{kind: frameAuthOK}
		if e, ok := o["epoch"].(string); ok && e != "" {
			f.epoch = e
		}
		// All or nothing, and at most the server's limit on K (bounds what the client keeps).
		if list, ok := o["epochs"].([]any); ok && len(list) > 0 && len(list) <= maxPartitions {
			for _, e := range list {
				s, ok := e.(string)
				if !ok || s == "" {
					f.epochs = nil
					break
				}
				f.epochs = append(f.epochs, s)
			}
		}
		// A malformed exp is dropped: without it the client never refreshes, and the server's
		// 4419 at expiry still brings a fresh token.
		if exp, ok := unixSeconds(o["exp"]); ok {
			f.exp = exp
		}
		return f
	case "refresh_ok":
		if exp, ok := unixSeconds(o["exp"]); ok {
			return serverFrame{kind: frameRefreshOK, exp: exp}
		}
		return serverFrame{kind: frameInvalid, problem: "refresh_ok without a numeric exp"}
	case "auth_error":
		msg, ok := o["error"].(string)
		if !ok {
			msg = "authentication failed"
		}
		return serverFrame{kind: frameAuthError, errText: msg}
	case "resumed":
		n, _ := number(o["replayed"])
		return serverFrame{kind: frameResumed, replayed: int64(n)}
	case "resume_failed":
		r, ok := o["reason"].(string)
		if !ok {
			r = "unknown"
		}
		return serverFrame{kind: frameResumeFailed, reason: r}
	case "watch_ok":
		c, ok := number(o["count"])
		if !ok || c < 0 || c != math.Trunc(c) || c > 1<<53 {
			return serverFrame{kind: frameInvalid, problem: "watch_ok without a count"}
		}
		ig, _ := number(o["ignored"])
		return serverFrame{kind: frameWatchOK, count: int64(c), ignored: int64(ig)}
	case TypeStatus, TypeInbound:
		return parseEvent(o, typ)
	}
	name := typ
	if _, isString := o["type"].(string); !isString {
		name = fmt.Sprint(o["type"])
	}
	return serverFrame{kind: frameUnknown, name: name}
}

func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

func unixSeconds(v any) (float64, bool) {
	f, ok := number(v)
	if !ok || math.IsInf(f, 0) || math.IsNaN(f) || f <= 0 {
		return 0, false
	}
	return f, true
}

func parseEvent(o map[string]any, typ string) serverFrame {
	str := func(field string) string { s, _ := o[field].(string); return s }
	for _, field := range requiredFields[typ] {
		if _, ok := o[field].(string); !ok {
			return serverFrame{kind: frameInvalid, problem: typ + " without string " + field}
		}
	}
	for _, field := range optionalFields[typ] {
		if v, present := o[field]; present {
			if _, ok := v.(string); !ok {
				return serverFrame{kind: frameInvalid, problem: typ + " with non-string " + field}
			}
		}
	}
	ev := Event{
		Type: typ, EventID: str("eventId"), MessageID: str("messageId"), AppID: str("appId"),
		TenantID: str("tenantId"), Status: str("status"), RCMessageID: str("rcMessageId"),
		Error: str("error"), From: str("from"), To: str("to"), Body: str("body"), Timestamp: str("timestamp"),
	}
	if v, present := o["seq"]; present {
		f, ok := number(v)
		if !ok || f < 0 || f != math.Trunc(f) || f > 1<<53-1 {
			return serverFrame{kind: frameInvalid, problem: typ + " with a seq that is not a non-negative integer"}
		}
		ev.Seq, ev.HasSeq = uint64(f), true
	}
	return serverFrame{kind: frameEvent, event: ev}
}

// maxPartitions is the server's limit on K; a longer epochs list in auth_ok is dropped.
const maxPartitions = 1024
