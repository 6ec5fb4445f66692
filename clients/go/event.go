package smsws

// Event is one SMS event as the gateway sends it: the seed's fields plus EventID and Seq.
// Type is "sms_status" (MessageID, AppID, Status, RCMessageID, Error) or "sms_inbound"
// (MessageID, From, To, Body, RCMessageID, AppID when bound to an app).
type Event struct {
	Type        string `json:"type"`
	EventID     string `json:"eventId"`
	MessageID   string `json:"messageId"`
	AppID       string `json:"appId,omitempty"`
	TenantID    string `json:"tenantId"`
	Status      string `json:"status,omitempty"`
	RCMessageID string `json:"rcMessageId,omitempty"`
	Error       string `json:"error,omitempty"`
	From        string `json:"from,omitempty"`
	To          string `json:"to,omitempty"`
	Body        string `json:"body,omitempty"`
	Timestamp   string `json:"timestamp"`
	// Seq is the stream sequence (durable path only; HasSeq false on the direct path).
	Seq    uint64 `json:"seq,omitempty"`
	HasSeq bool   `json:"-"`
}

// Event types.
const (
	TypeStatus  = "sms_status"
	TypeInbound = "sms_inbound"
)

// Position is where a client is in one stream incarnation; store it and pass it back with
// WithResumeFrom to resume across restarts.
type Position struct {
	Epoch string `json:"epoch"`
	Seq   uint64 `json:"seq"`
}
