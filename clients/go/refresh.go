package smsws

import (
	"math"
	"time"
)

// When a token socket refreshes its token (same rule as src/client/token-refresh.ts): a margin
// before exp of min(60 s, 10 % of the time left), plus up to one more margin of jitter; a floor
// that doubles (5 s .. 5 min) when the local clock says "already expired" again and again.
const (
	refreshMargin       = 60 * time.Second
	refreshMarginRatio  = 0.1
	minRefreshDelay     = 5 * time.Second
	maxRefreshFloor     = 300 * time.Second
	tokenTimeout        = 30 * time.Second
	tokenRetryInitial   = time.Second
	tokenRetryMax       = 30 * time.Second
	heartbeatCloseCode  = 4000
	writeTimeout        = 10 * time.Second
	maxServerFrameBytes = 1 << 20
)

type refreshPlan struct {
	delay     time.Duration
	nextFloor time.Duration
}

func planRefresh(exp, now time.Time, floor time.Duration, random func() float64) refreshPlan {
	left := float64(exp.Sub(now))
	margin := math.Min(float64(refreshMargin), math.Max(0, left*refreshMarginRatio))
	r := math.Min(math.Max(random(), 0), 1)
	wanted := time.Duration(math.Floor(left - margin - r*margin))
	if wanted > floor {
		return refreshPlan{delay: wanted, nextFloor: minRefreshDelay}
	}
	return refreshPlan{delay: floor, nextFloor: min(floor*2, maxRefreshFloor)}
}
