package remote_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"

	"github.com/stellaops/mirror/pkg/remote"
)

// What a retry can mend is the network's doing; a local file's error (a
// full disk on the media being written) is not, and fails at once: it used
// to pass for a network error (every errno is a net.Error) and be retried
// for seconds.
func TestIsTransient(t *testing.T) {
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	refused := &url.Error{Op: "Get", URL: "http://127.0.0.1:9/v2/", Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	timeout := &url.Error{Op: "Get", URL: "http://127.0.0.1:9/v2/", Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}}
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{reset, true},
		{refused, true},
		{timeout, true},
		{fmt.Errorf("blob: %w", io.ErrUnexpectedEOF), true},
		{&remote.StallError{Host: "127.0.0.1:5000"}, true},
		{&os.PathError{Op: "write", Path: "bundle/.tmp-1", Err: syscall.ENOSPC}, false},
		{fmt.Errorf("blob: %w", &os.PathError{Op: "write", Path: "b.tar", Err: os.NewSyscallError("copy_file_range", syscall.EFBIG)}), false},
		{&os.PathError{Op: "open", Path: "bundle", Err: syscall.EACCES}, false},
		{syscall.EIO, false},
		{context.Canceled, false},
		{errors.New("something else"), false},
	} {
		if got := remote.IsTransient(tt.err); got != tt.want {
			t.Errorf("IsTransient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
