package cli

import "testing"

// TestGlobalNumbersOutOfRange: --concurrency 0 or below was taken for the
// default, 8 blobs at once, and --retries below 0 for 0, each without a
// word, where the operator meant something else (no limit? a typo?).
// Each is refused, exit 1, naming the flag and its value, before anything
// is read or sent.
func TestGlobalNumbersOutOfRange(t *testing.T) {
	for _, tt := range []struct {
		flag, value, want string
	}{
		{"--concurrency", "0", `stella: --concurrency 0: want 1 or more (blobs transferred at once): invalid usage` + "\n"},
		{"--concurrency", "-1", `stella: --concurrency -1: want 1 or more (blobs transferred at once): invalid usage` + "\n"},
		{"--retries", "-1", `stella: --retries -1: want 0 or more (0 retries nothing): invalid usage` + "\n"},
	} {
		args := []string{"mirror", "push", "b.tar", "127.0.0.1:1/r:1", tt.flag, tt.value}
		code, stdout, stderr := run(t, args...)
		if code != ExitInput || stdout != "" || stderr != tt.want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d, stderr %q", args, code, stdout, stderr, ExitInput, tt.want)
		}
	}
}

// TestGlobalNumbersTooLarge: --concurrency had no upper bound: 100000 opened
// a file for every blob at once, and under `ulimit -n 1024` verify-checksums
// reported a whole bundle's files "missing", exit 2; --retries
// 9223372036854775807 overflowed the tries of a blob (retries + 1) to the
// default, while every request was retried without end. Each is refused,
// exit 1, naming the flag and the range (found by review).
func TestGlobalNumbersTooLarge(t *testing.T) {
	for _, tt := range []struct {
		flag, value, want string
	}{
		{"--concurrency", "257", `stella: --concurrency 257: want 1 to 256 (blobs transferred at once): invalid usage` + "\n"},
		{"--concurrency", "100000", `stella: --concurrency 100000: want 1 to 256 (blobs transferred at once): invalid usage` + "\n"},
		{"--retries", "101", `stella: --retries 101: want 0 to 100 (0 retries nothing): invalid usage` + "\n"},
		{"--retries", "9223372036854775807", `stella: --retries 9223372036854775807: want 0 to 100 (0 retries nothing): invalid usage` + "\n"},
	} {
		args := []string{"mirror", "push", "b.tar", "127.0.0.1:1/r:1", tt.flag, tt.value}
		code, stdout, stderr := run(t, args...)
		if code != ExitInput || stdout != "" || stderr != tt.want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d, stderr %q", args, code, stdout, stderr, ExitInput, tt.want)
		}
	}
}
