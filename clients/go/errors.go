package smsws

import (
	"errors"
	"fmt"
)

// Sentinels for the close codes that stop a client (errors.Is works on every *CloseError).
var (
	ErrBadRequest   = errors.New("smsws: bad request (4400)")
	ErrUnauthorized = errors.New("smsws: unauthorized (4401)")
	ErrForbidden    = errors.New("smsws: forbidden (4403)")
	ErrKicked       = errors.New("smsws: kicked by an operator (4410)")
	// ErrMessageTooBig is reported (not fatal) when the server closed with 1009.
	ErrMessageTooBig = errors.New("smsws: message too big (1009)")
	// ErrInvalidFrame: a server frame that is not JSON, or an event missing a required field; dropped.
	ErrInvalidFrame = errors.New("smsws: invalid server frame")
	// ErrClosed: the client was closed by Close.
	ErrClosed = errors.New("smsws: client closed")
	// ErrTokenFetch: the TokenSource failed; the client retries with backoff.
	ErrTokenFetch = errors.New("smsws: token source failed")
	// ErrHistory: a history request failed or was refused (see *HistoryError).
	ErrHistory = errors.New("smsws: history request failed")
	// ErrNoWatch: Watch/Unwatch on a client whose filter has no MessageIDs.
	ErrNoWatch = errors.New("smsws: watch needs a filter with message ids (WithFilter(Filter{MessageIDs: []string{}}))")
)

// sentinelOf maps the stable error codes of the close-code table to the sentinels.
var sentinelOf = map[string]error{
	"BAD_REQUEST":     ErrBadRequest,
	"AUTH_FAILED":     ErrUnauthorized,
	"FORBIDDEN":       ErrForbidden,
	"KICKED":          ErrKicked,
	"MESSAGE_TOO_BIG": ErrMessageTooBig,
}

// CloseError is a socket close that carries an error: Code is the WebSocket close code, Reason
// the server's text (the auth_error message when there was one). Unwrap gives the sentinel.
type CloseError struct {
	Code   int
	Reason string
	// ErrorCode is the stable code of the close-code table (e.g. "KICKED").
	ErrorCode string
}

func (e *CloseError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("smsws: connection closed with code %d (%s)", e.Code, e.ErrorCode)
	}
	return fmt.Sprintf("smsws: connection closed with code %d (%s): %s", e.Code, e.ErrorCode, e.Reason)
}

func (e *CloseError) Unwrap() error { return sentinelOf[e.ErrorCode] }

// HistoryError is a failed history page: Status is the HTTP status (0 when there was no answer).
type HistoryError struct {
	Status  int
	Message string
	Cause   error
}

func (e *HistoryError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("smsws: history: HTTP %d: %s", e.Status, e.Message)
	}
	return "smsws: history: " + e.Message
}

// Is makes errors.Is(err, ErrHistory) true.
func (e *HistoryError) Is(target error) bool { return target == ErrHistory }

func (e *HistoryError) Unwrap() error { return e.Cause }
