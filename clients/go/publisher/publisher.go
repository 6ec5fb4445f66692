package publisher

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Subject prefixes of the bus contract (src/bus/contract.ts owns them).
const (
	DurablePrefix = "in.sms"
	LivePrefix    = "sms"
)

// Status is the input of an sms_status event; EventID and Timestamp are filled when empty.
type Status struct {
	EventID, MessageID, AppID, TenantID, Status, RCMessageID, Error, Timestamp string
}

// Inbound is the input of an sms_inbound event; AppID empty for a tenant-wide SMS.
type Inbound struct {
	EventID, MessageID, From, To, Body, RCMessageID, TenantID, AppID, Timestamp string
}

func (s Status) input() map[string]any {
	m := map[string]any{"type": "sms_status", "eventId": s.EventID, "messageId": s.MessageID, "appId": s.AppID,
		"tenantId": s.TenantID, "status": s.Status, "timestamp": s.Timestamp}
	setIf(m, "rcMessageId", s.RCMessageID)
	setIf(m, "error", s.Error)
	return m
}

func (i Inbound) input() map[string]any {
	m := map[string]any{"type": "sms_inbound", "eventId": i.EventID, "messageId": i.MessageID, "from": i.From, "to": i.To,
		"body": i.Body, "tenantId": i.TenantID, "timestamp": i.Timestamp}
	setIf(m, "rcMessageId", i.RCMessageID)
	setIf(m, "appId", i.AppID)
	return m
}

func setIf(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

// Prepare fills eventId (a random UUID) and timestamp (now, ISO 8601 in ms, UTC) when absent or
// empty, then validates (Normalize).
func Prepare(in map[string]any) (Event, error) {
	filled := make(map[string]any, len(in)+2)
	for k, v := range in {
		filled[k] = v
	}
	if v, ok := filled["eventId"]; !ok || v == nil || v == "" {
		filled["eventId"] = newUUID()
	}
	if v, ok := filled["timestamp"]; !ok || v == nil || v == "" {
		filled["timestamp"] = time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	}
	return Normalize(filled)
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func kindOf(e Event) string {
	if e.Get("type") == "sms_status" {
		return "status"
	}
	return "inbound"
}

func appToken(e Event) string {
	if app := e.Get("appId"); app != "" {
		return app
	}
	return tenantWideApp
}

// DurableSubject is where the durable path publishes: in.sms.<tenant>.<app>.<kind>.
func DurableSubject(e Event) string {
	return fmt.Sprintf("%s.%s.%s.%s", DurablePrefix, e.Get("tenantId"), appToken(e), kindOf(e))
}

// LiveSubject is where the direct path publishes: sms.<tenant>.<app>.<kind>.
func LiveSubject(e Event) string {
	return fmt.Sprintf("%s.%s.%s.%s", LivePrefix, e.Get("tenantId"), appToken(e), kindOf(e))
}

// Published is what a publish did.
type Published struct {
	Event   Event
	Subject string
	// Seq is the stream sequence (durable path only).
	Seq uint64
	// Duplicate: the stream already held this eventId (a retried publish), nothing was stored.
	Duplicate bool
}

// Publisher publishes events on one NATS connection.
type Publisher struct {
	nc *nats.Conn
	js jetstream.JetStream
}

// New wraps a connection (the caller owns and closes it).
func New(nc *nats.Conn) (*Publisher, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	return &Publisher{nc: nc, js: js}, nil
}

// PublishOption changes one publish.
type PublishOption func(*publishOptions)

type publishOptions struct{ direct bool }

// Direct publishes with core NATS straight to the live subject: no stream, no seq, no resume.
func Direct() PublishOption { return func(o *publishOptions) { o.direct = true } }

// PublishStatus publishes an sms_status event.
func (p *Publisher) PublishStatus(ctx context.Context, s Status, opts ...PublishOption) (*Published, error) {
	return p.Publish(ctx, s.input(), opts...)
}

// PublishInbound publishes an sms_inbound event.
func (p *Publisher) PublishInbound(ctx context.Context, i Inbound, opts ...PublishOption) (*Published, error) {
	return p.Publish(ctx, i.input(), opts...)
}

// Publish validates and completes an event object, packs it and publishes it: durably through
// JetStream with Nats-Msg-Id = eventId (the stream de-duplicates a retried publish), acknowledged;
// or, with Direct, on core NATS followed by a flush. ctx bounds the ack or the flush.
func (p *Publisher) Publish(ctx context.Context, in map[string]any, opts ...PublishOption) (*Published, error) {
	var o publishOptions
	for _, opt := range opts {
		opt(&o)
	}
	ev, err := Prepare(in)
	if err != nil {
		return nil, err
	}
	data := Encode(ev)
	if o.direct {
		subject := LiveSubject(ev)
		if err := p.nc.Publish(subject, data); err != nil {
			return nil, err
		}
		if err := p.nc.FlushWithContext(ctx); err != nil {
			return nil, err
		}
		return &Published{Event: ev, Subject: subject}, nil
	}
	subject := DurableSubject(ev)
	ack, err := p.js.Publish(ctx, subject, data, jetstream.WithMsgID(ev.Get("eventId")))
	if err != nil {
		return nil, err
	}
	return &Published{Event: ev, Subject: subject, Seq: ack.Sequence, Duplicate: ack.Duplicate}, nil
}
