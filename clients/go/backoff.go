package smsws

import (
	"math"
	"time"
)

// Backoff is the reconnect policy: exponential with FULL jitter,
// delay = random(0, min(Max, Initial * 2^attempt)). Full jitter matters: a draining node closes
// thousands of sockets, and without it they would all land on the other nodes in one instant.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
}

// DefaultBackoff matches the TypeScript SDK (1 s, capped at 30 s).
var DefaultBackoff = Backoff{Initial: time.Second, Max: 30 * time.Second}

// Delay for the given attempt (0 for the first retry); random returns [0, 1).
func (b Backoff) Delay(attempt int, random func() float64) time.Duration {
	if attempt < 0 {
		attempt = 0
	}
	// In whole milliseconds, like the TypeScript SDK (the conformance vectors check it).
	ms := float64(time.Millisecond)
	ceiling := float64(b.Max) / ms
	if attempt < 62 {
		ceiling = math.Min(ceiling, float64(b.Initial)/ms*math.Pow(2, float64(attempt)))
	}
	r := math.Min(math.Max(random(), 0), 1)
	return time.Duration(math.Floor(r*ceiling)) * time.Millisecond
}
