package transfer

import (
	"context"
	"errors"
	"time"
)

// Retry runs op as retryLoop does, for callers outside the package (a
// check the registry may answer only a moment later).
func Retry(ctx context.Context, attempts int, first time.Duration, op func() (again bool, err error)) error {
	_, err := retryLoop(ctx, attempts, first, op)
	return err
}

// defaultBackoff is the first wait between attempts when none is set.
const defaultBackoff = 250 * time.Millisecond

// pause waits d (0 means defaultBackoff), or until ctx is done.
func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		d = defaultBackoff
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// retryLoop runs op until it succeeds, fails permanently, or has been
// tried attempts times (0 means DefaultAttempts), waiting first (0 means
// 250ms), doubling up to 8 seconds; a registry's Retry-After wins. op says
// whether its error is worth another try. It returns the last error and how
// many retries were made.
func retryLoop(ctx context.Context, attempts int, first time.Duration, op func() (again bool, err error)) (int, error) {
	return retryProgress(ctx, attempts, first, func() (bool, bool, error) {
		again, err := op()
		return again, false, err
	})
}

// freeRetries bounds, per retry allowed (attempts-1), the failed tries
// that made progress and so did not count as attempts: none when the
// caller allows no retry (--retries 0).
const freeRetries = 4

// freeTries is the bound on tries that made progress for attempts.
func freeTries(attempts int) int {
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	return freeRetries * (attempts - 1)
}

// retryProgress is retryLoop for an op that can report progress: a failed
// try after which the registry holds more than before (an upload broken
// off part way, or refused because the registry was still taking the bytes
// of the one before) is not counted against attempts, and the wait starts
// over from first; so a long upload over a link that drops now and then
// completes, where each drop used to cost an attempt. At most
// freeTries(attempts) such tries are made, whatever the registry reports.
func retryProgress(ctx context.Context, attempts int, first time.Duration, op func() (again, progressed bool, err error)) (int, error) {
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	if first <= 0 {
		first = defaultBackoff
	}
	wait, free := first, freeTries(attempts)
	var err error
	for i, tries := 0, 0; i < attempts; tries++ {
		var again, progressed bool
		again, progressed, err = op()
		if err == nil || !again || ctx.Err() != nil {
			return tries, err
		}
		if progressed && free > 0 {
			free--
			wait = first
		} else if i++; i == attempts {
			return tries, err
		}
		d := wait
		var rerr *registryError
		if errors.As(err, &rerr) && rerr.retryAfter > 0 {
			d = rerr.retryAfter // at most remote.MaxRetryAfter
		}
		select {
		case <-ctx.Done():
			return tries, ctx.Err()
		case <-time.After(d):
		}
		wait = min(2*wait, 8*time.Second)
	}
	return attempts - 1, err
}
