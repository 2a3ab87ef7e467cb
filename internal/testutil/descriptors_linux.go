//go:build linux

package testutil

import (
	"os"
	"syscall"
	"testing"
)

// WithFewDescriptors runs fn with the process's limit of open files
// lowered to the descriptors open now plus spare, and puts the limit back
// before it returns. It skips the test where the limit cannot be read or
// lowered. fn must not start work that outlives it.
func WithFewDescriptors(t testing.TB, spare int, fn func()) {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	low := old
	low.Cur = uint64(len(fds) + spare)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skip(err)
	}
	defer func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
			t.Fatal(err)
		}
	}()
	fn()
}
