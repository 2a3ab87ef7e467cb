package transfer

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A failed try that made progress does not count as an attempt; one that
// did not does; a registry that reports progress forever is still given up
// on; and with no retry allowed (--retries 0) progress buys no try either.
func TestRetryProgress(t *testing.T) {
	broken := errors.New("broken off")
	for _, tt := range []struct {
		name      string
		attempts  int
		progress  func(try int) bool
		okAt      int // the try that succeeds (0: none)
		wantTries int
		wantErr   bool
	}{
		{"progress every time, done at the 9th", 3, func(int) bool { return true }, 9, 9, false},
		{"no progress: 3 attempts", 3, func(int) bool { return false }, 0, 3, true},
		{"no progress, done at the 3rd", 3, func(int) bool { return false }, 3, 3, false},
		{"progress forever: bounded", 3, func(int) bool { return true }, 0, 3 + freeRetries*2, true},
		{"alternating", 3, func(try int) bool { return try%2 == 0 }, 0, 5, true},
		{"no retry allowed: progress buys none", 1, func(int) bool { return true }, 0, 1, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tries := 0
			_, err := retryProgress(context.Background(), tt.attempts, time.Microsecond, func() (bool, bool, error) {
				tries++
				if tries == tt.okAt {
					return false, false, nil
				}
				return true, tt.progress(tries), broken
			})
			if tries != tt.wantTries || (err != nil) != tt.wantErr {
				t.Fatalf("%d tries, err %v; want %d tries, an error: %v", tries, err, tt.wantTries, tt.wantErr)
			}
		})
	}
}
