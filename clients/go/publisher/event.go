// Package publisher is the producer side of the gateway's bus contract for Go services (README
// "Bus contract (for producers)"), the twin of the TypeScript `sms-ws-gateway/publisher`:
// validate an event with the node's rules, fill in eventId and timestamp, pack it as plain
// MessagePack (byte for byte what the TypeScript publisher sends: the conformance vectors check
// it), and publish it through JetStream with Nats-Msg-Id (durable path) or core NATS (direct).
package publisher

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf16"
)

// Rejection reasons: the ones a gateway node counts in smsws_events_rejected_total.
const (
	ReasonMissingField = "missing_field"
	ReasonBadID        = "bad_id"
	ReasonTooLarge     = "too_large"
	ReasonBadValue     = "bad_value"
	ReasonDecode       = "decode"
)

// ErrInvalidEvent: errors.Is works on every *InvalidEventError.
var ErrInvalidEvent = errors.New("publisher: invalid event")

// InvalidEventError is an event the gateway would drop; Reason is the node's counter label.
type InvalidEventError struct {
	Reason  string
	Message string
}

func (e *InvalidEventError) Error() string {
	return fmt.Sprintf("publisher: invalid event (%s): %s", e.Reason, e.Message)
}

// Is makes errors.Is(err, ErrInvalidEvent) true.
func (e *InvalidEventError) Is(target error) bool { return target == ErrInvalidEvent }

func invalid(reason, format string, args ...any) error {
	return &InvalidEventError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// idPattern: every id (eventId, messageId, tenantId, appId) is subject-token and log safe.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// tenantWideApp is the app token of inbound SMS not bound to one app.
const tenantWideApp = "_"

// FieldMaxLength is each string field's cap in UTF-16 code units (JavaScript length: an emoji
// counts 2), the node's caps.
var FieldMaxLength = map[string]int{
	"eventId": 64, "messageId": 64, "tenantId": 64, "appId": 64, "status": 64, "rcMessageId": 128,
	"error": 512, "from": 64, "to": 64, "body": 4096, "timestamp": 40,
}

// field is one key and value of a normalized event, in the seed's order.
type field struct{ key, value string }

// Event is a validated event: exactly the protocol's fields in the seed's order (the order is
// part of the MessagePack bytes).
type Event struct{ fields []field }

// Get returns a field's value ("" when absent).
func (e Event) Get(key string) string {
	for _, f := range e.fields {
		if f.key == key {
			return f.value
		}
	}
	return ""
}

// Map returns the fields as a map.
func (e Event) Map() map[string]string {
	m := make(map[string]string, len(e.fields))
	for _, f := range e.fields {
		m[f.key] = f.value
	}
	return m
}

// Keys returns the field names in order.
func (e Event) Keys() []string {
	out := make([]string, len(e.fields))
	for i, f := range e.fields {
		out[i] = f.key
	}
	return out
}

func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

// unsafeText: C0 controls, DEL, C1 controls and the bidi embeddings, overrides and isolates
// (U+202A..U+202E, U+2066..U+2069), refused in every field but body.
func unsafeText(s string) bool {
	for _, r := range s {
		if r <= 0x1f || (r >= 0x7f && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			return true
		}
	}
	return false
}

type checker struct{ in map[string]any }

func (c checker) present(name string) (string, error) {
	v, ok := c.in[name].(string)
	if !ok {
		return "", invalid(ReasonMissingField, "%s must be a string", name)
	}
	if utf16Len(v) > FieldMaxLength[name] {
		return "", invalid(ReasonTooLarge, "%s is longer than %d characters", name, FieldMaxLength[name])
	}
	return v, nil
}

func (c checker) required(name string) (string, error) {
	if v, ok := c.in[name].(string); !ok || v == "" {
		return "", invalid(ReasonMissingField, "%s must be a non-empty string", name)
	}
	v, err := c.present(name)
	if err == nil && unsafeText(v) {
		err = invalid(ReasonBadValue, "%s contains a control or bidi-override character", name)
	}
	return v, err
}

func (c checker) optional(name string) (string, bool, error) {
	if v, ok := c.in[name]; !ok || v == nil {
		return "", false, nil
	}
	if _, ok := c.in[name].(string); !ok {
		return "", false, invalid(ReasonMissingField, "%s must be a string when present", name)
	}
	v, err := c.present(name)
	if err == nil && unsafeText(v) {
		err = invalid(ReasonBadValue, "%s contains a control or bidi-override character", name)
	}
	return v, true, err
}

func (c checker) id(name string) (string, error) {
	if v, ok := c.in[name].(string); !ok || v == "" {
		return "", invalid(ReasonMissingField, "%s must be a non-empty string", name)
	}
	v, err := c.present(name)
	if err == nil && !idPattern.MatchString(v) {
		err = invalid(ReasonBadID, "%s must match %s", name, idPattern)
	}
	return v, err
}

// timestampLayouts: the ISO 8601 forms producers send. The TypeScript node uses Date.parse,
// which accepts more; the Go publisher only produces and accepts these.
var timestampLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"}

func (c checker) timestamp() (string, error) {
	v, err := c.required("timestamp")
	if err != nil {
		return "", err
	}
	for _, layout := range timestampLayouts {
		if _, perr := time.Parse(layout, v); perr == nil {
			return v, nil
		}
	}
	return "", invalid(ReasonBadValue, "timestamp is not a date (ISO 8601 expected)")
}

func (c checker) body() (string, error) {
	v, err := c.present("body")
	if err == nil && strings.ContainsRune(v, 0) {
		err = invalid(ReasonBadValue, "body contains a NUL character")
	}
	return v, err
}

// Normalize validates an event object and rebuilds it with exactly the protocol's fields in the
// seed's order, like the node's normalizeEvent: unknown fields are dropped, seq never taken.
func Normalize(in map[string]any) (Event, error) {
	c := checker{in}
	var fs []field
	var err error
	add := func(key string, get func() (string, error)) {
		if err != nil {
			return
		}
		var v string
		if v, err = get(); err == nil {
			fs = append(fs, field{key, v})
		}
	}
	addOptional := func(key string) {
		if err != nil {
			return
		}
		var v string
		var ok bool
		if v, ok, err = c.optional(key); ok && err == nil {
			fs = append(fs, field{key, v})
		}
	}
	id := func(n string) func() (string, error) { return func() (string, error) { return c.id(n) } }
	req := func(n string) func() (string, error) { return func() (string, error) { return c.required(n) } }
	switch in["type"] {
	case "sms_status":
		fs = append(fs, field{"type", "sms_status"})
		add("eventId", id("eventId"))
		add("messageId", id("messageId"))
		add("appId", id("appId"))
		add("tenantId", id("tenantId"))
		add("status", req("status"))
		addOptional("rcMessageId")
		addOptional("error")
		add("timestamp", c.timestamp)
		if err == nil && (Event{fs}).Get("appId") == tenantWideApp {
			err = invalid(ReasonMissingField, "sms_status needs a real appId, not the tenant-wide '_'")
		}
	case "sms_inbound":
		fs = append(fs, field{"type", "sms_inbound"})
		add("eventId", id("eventId"))
		add("messageId", id("messageId"))
		add("from", req("from"))
		add("to", req("to"))
		add("body", c.body)
		addOptional("rcMessageId")
		add("tenantId", id("tenantId"))
		if v, ok := in["appId"]; ok && v != nil && err == nil {
			var app string
			if app, err = c.id("appId"); err == nil && app != tenantWideApp {
				fs = append(fs, field{"appId", app})
			}
		}
		add("timestamp", c.timestamp)
	default:
		err = invalid(ReasonMissingField, `type must be "sms_status" or "sms_inbound"`)
	}
	if err != nil {
		return Event{}, err
	}
	return Event{fs}, nil
}
