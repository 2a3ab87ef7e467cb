package transfer

import (
	"context"
	"errors"
	"time"
)

// retryLoop runs op until it succeeds, fails permanently, or has been
// tried attempts times (0 means DefaultAttempts), waiting first (0 means
// 250ms), doubling up to 8 seconds; a registry's Retry-After wins. op says
// whether its error is worth another try. It returns the last error and how
// many retries were made.
func retryLoop(ctx context.Context, attempts int, first time.Duration, op func() (again bool, err error)) (int, error) {
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	wait := first
	if wait <= 0 {
		wait = 250 * time.Millisecond
	}
	var err error
	for i := 0; i < attempts; i++ {
		var again bool
		if again, err = op(); err == nil || !again || ctx.Err() != nil || i == attempts-1 {
			return i, err
		}
		d := wait
		var rerr *registryError
		if errors.As(err, &rerr) && rerr.retryAfter > 0 {
			d = min(rerr.retryAfter, 30*time.Second)
		}
		select {
		case <-ctx.Done():
			return i, ctx.Err()
		case <-time.After(d):
		}
		wait = min(2*wait, 8*time.Second)
	}
	return attempts - 1, err
}
