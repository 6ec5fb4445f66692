package smsws

import "time"

// State is where the client is in a connection's life.
type State string

const (
	// StateConnecting: a socket is opening (with a TokenSource: a token is being fetched).
	StateConnecting State = "connecting"
	// StateAuthenticating: open, plain auth sent, waiting for auth_ok.
	StateAuthenticating State = "authenticating"
	// StateResuming: auth with a resume position sent; until resumed/resume_failed (replayed
	// events are delivered as usual meanwhile).
	StateResuming State = "resuming"
	// StateLive: authenticated, receiving events.
	StateLive State = "live"
	// StateReconnecting: the socket is gone; waiting out the backoff delay.
	StateReconnecting State = "reconnecting"
	// StateClosed: terminal, after Close or a close code that stops the client.
	StateClosed State = "closed"
)

// Notice is what the Notices channel carries; switch on the concrete type: StateChange,
// Resumed, ResumeFailed, Backfilled, ErrorNotice.
type Notice interface{ isNotice() }

// StateChange reports a new State.
type StateChange struct {
	State    State
	Previous State
	// CloseCode and CloseReason of the socket that just went away (Reconnecting, Closed).
	CloseCode   int
	CloseReason string
	// Attempt (1 = first reconnect in a row) and Delay chosen, with Reconnecting.
	Attempt int
	Delay   time.Duration
	// Err is the fatal error, with Closed after a close code that stops the client.
	Err error
}

// Resumed: the server replayed what was missed (duplicates the client dropped included).
type Resumed struct {
	Replayed int64
	From     []Position
}

// ResumeFailed: events may have been missed. Server reasons: retention, epoch, limit,
// unavailable; client reason no_position (a reconnect without a position to resume from).
// Backfill over REST from DisconnectedAt, or use WithBackfill for retention.
type ResumeFailed struct {
	Reason         string
	From           []Position
	DisconnectedAt time.Time
}

// Backfilled: with WithBackfill, after a resume that failed for retention.
type Backfilled struct{ BackfillResult }

// ErrorNotice is a non-fatal error: a dropped server frame, a failed TokenSource call (the
// client retries), a 1009 close (the client reconnects).
type ErrorNotice struct{ Err error }

func (StateChange) isNotice()  {}
func (Resumed) isNotice()      {}
func (ResumeFailed) isNotice() {}
func (Backfilled) isNotice()   {}
func (ErrorNotice) isNotice()  {}
