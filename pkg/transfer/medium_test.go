package transfer_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/transfer"
)

// failingMedium reads as a file on a medium that fails past a byte
// (os.File.ReadAt's own error for an unreadable sector), counting the
// reads that failed.
type failingMedium struct {
	data   []byte
	from   int64
	failed atomic.Int64
	// errno is the error of the failed read; EIO if zero.
	errno syscall.Errno
}

func (m *failingMedium) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > m.from {
		m.failed.Add(1)
		n := max(0, int(m.from-off))
		copy(p, m.data[off:off+int64(n)])
		errno := m.errno
		if errno == 0 {
			errno = syscall.EIO
		}
		return n, &os.PathError{Op: "read", Path: "/media/stick/bundle.tar", Err: errno}
	}
	return bytes.NewReader(m.data).ReadAt(p, off)
}

// The medium a bundle is read from fails mid-blob (an unreadable sector:
// EIO). The request whose body it broke failed as the network's fault,
// `Put "http://…": readfrom tcp 127.0.0.1:…->127.0.0.1:…: read
// /media/stick/bundle.tar: input/output error`, and was retried as one.
// Now the upload fails at once, naming the file and saying the medium
// failed, with no request or socket in the line.
func TestUploadFromAFailingMedium(t *testing.T) {
	u := mediumUploader(t)
	data := randomBytes(5<<20+99, 64)
	desc := blobDesc(data)
	for _, from := range []int64{3 << 20, desc.Size - 10} { // mid-way; in the last request
		m := &failingMedium{data: data, from: from}
		err := u.PushAt(t.Context(), desc, m)
		var pe *os.PathError
		if !errors.As(err, &pe) || !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "read /media/stick/bundle.tar: input/output error (the medium failed as it was read") ||
			strings.Contains(err.Error(), "tcp") || strings.Contains(err.Error(), "http://") {
			t.Errorf("upload from a medium failing at byte %d: %v, want the file named and the medium blamed, with no request", from, err)
		}
		if n := m.failed.Load(); n != 1 {
			t.Errorf("the failing medium was read %d times, want once", n)
		}
	}
}

// A read of the bundle that the system refuses (EACCES, EPERM: a file the
// user may not read, a network share whose ticket expired) was told as
// a failing medium, `(the medium failed as it was read: copy the bundle
// again onto sound media …)`, which sends the operator to copy sound
// media. Now it names the file and says to check its permissions or run
// as a user who may read it; not retried.
func TestUploadFromAnUnreadableFile(t *testing.T) {
	u := mediumUploader(t)
	data := randomBytes(5<<20+99, 65)
	desc := blobDesc(data)
	for _, errno := range []syscall.Errno{syscall.EACCES, syscall.EPERM} {
		m := &failingMedium{data: data, from: 3 << 20, errno: errno}
		err := u.PushAt(t.Context(), desc, m)
		if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "read /media/stick/bundle.tar: "+errno.Error()+" (this user may not read the file: check its permissions and ownership") ||
			strings.Contains(err.Error(), "sound media") || strings.Contains(err.Error(), "\n") {
			t.Errorf("upload from a file the system refuses to read (%v): %v, want one line naming the file and its permissions", errno, err)
		}
		if n := m.failed.Load(); n != 1 {
			t.Errorf("the refused read was tried %d times, want once", n)
		}
	}
}

// mediumUploader uploads to a real registry in 2 MiB requests, retrying
// 5 times: a medium's error must fail the first attempt, not the fifth.
func mediumUploader(t *testing.T) *transfer.Uploader {
	t.Helper()
	transfer.SetAtChunkSize(t, 2<<20)
	host := testutil.Registry(t)
	up, err := testutil.Client(t).UploadRepository(host + "/stellaops/medium")
	if err != nil {
		t.Fatal(err)
	}
	return &transfer.Uploader{Repo: up, Backoff: time.Millisecond, Attempts: 5}
}
