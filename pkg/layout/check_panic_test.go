package layout

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/errdef"
)

// TestCheckInBackgroundPanicIsInternalError: a panic (a bug) in a worker
// of pack's background check against SHA256SUMS (here in taking a copy
// buffer) is the check's error, an *errdef.Panic with the stack of the
// worker (the CLI's exit 1 and one line "internal error: panic: …"); it
// ended the process with Go's exit code 2, a digest mismatch's, as pack's
// own finding of a file that does not match SHA256SUMS is.
func TestCheckInBackgroundPanicIsInternalError(t *testing.T) {
	copyBuffers = sync.Pool{New: func() any { panic("test: no copy buffer") }}
	t.Cleanup(func() { copyBuffers = sync.Pool{New: func() any { return new([copyBufferSize]byte) }} })
	root := t.TempDir()
	data := []byte("some file\n")
	if err := os.WriteFile(filepath.Join(root, "a.txt"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	d := OpenTree(root)
	err := d.checkInBackground(context.Background(), []string{"a.txt"}, map[string]digest.Digest{"a.txt": digest.FromBytes(data)})()
	var p *errdef.Panic
	if !errors.As(err, &p) || !errors.Is(err, errdef.ErrInternal) || err.Error() != "internal error: panic: test: no copy buffer" {
		t.Fatalf("check: %v; want the internal error of the panic", err)
	}
	if !strings.Contains(string(p.Stack), "layout.(*Dir).checkFile") {
		t.Errorf("stack does not show where it panicked:\n%s", p.Stack)
	}
}
