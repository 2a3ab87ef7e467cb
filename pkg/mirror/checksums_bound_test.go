package mirror_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// heapSampler is a slog handler that, every so many records, reads the
// live heap (after a GC) and keeps the largest.
type heapSampler struct {
	n, every int
	max      uint64
}

func (h *heapSampler) Enabled(context.Context, slog.Level) bool { return true }
func (h *heapSampler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *heapSampler) WithGroup(string) slog.Handler            { return h }
func (h *heapSampler) Handle(context.Context, slog.Record) error {
	if h.n++; h.n%h.every == 0 {
		h.sample()
	}
	return nil
}

func (h *heapSampler) sample() {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	h.max = max(h.max, m.HeapAlloc)
}

// TestVerifyChecksumsBoundedByDirectory: verify-checksums held the name
// of every file of the bundle directory (a set of those present) and
// every bad file, so a directory of 200,000 files SHA256SUMS does not
// list took ~90 MiB, ~400 bytes a file more, past the 100 MiB promise
// for a hostile bundle. What it holds is now bounded by SHA256SUMS and
// the first bad files named, whatever else the directory holds; the
// error counts the rest.
func TestVerifyChecksumsBoundedByDirectory(t *testing.T) {
	dir := t.TempDir()
	content := []byte(`{"imageLayoutVersion":"1.0.0"}`)
	sum := sha256.Sum256(content)
	writeFile(t, filepath.Join(dir, "oci-layout"), string(content))
	writeFile(t, filepath.Join(dir, "SHA256SUMS"), hex.EncodeToString(sum[:])+"  oci-layout\n")
	junk := filepath.Join(dir, "junk")
	if err := os.Mkdir(junk, 0o755); err != nil {
		t.Fatal(err)
	}
	const files = 40000
	for i := range files {
		if err := os.WriteFile(filepath.Join(junk, fmt.Sprintf("a-file-that-is-not-listed-%06d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h := &heapSampler{every: 2000}
	h.sample()
	base := h.max
	h.max = 0
	_, err := mirror.VerifyChecksums(context.Background(), mirror.ChecksumsOptions{Dir: dir, Logger: slog.New(h)})
	if !errors.Is(err, errdef.ErrDigestMismatch) {
		t.Fatalf("err = %v, want a digest mismatch", err)
	}
	if want := fmt.Sprintf("%d files disagree", files); !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "junk/a-file-that-is-not-listed-000000 (not listed)") || !strings.Contains(err.Error(), fmt.Sprintf("and %d more", files-50)) {
		t.Errorf("err = %.300s…, want %q naming the first by path and counting the rest", err, want)
	}
	if h.n != files {
		t.Errorf("%d bad files logged, want %d", h.n, files)
	}
	// Some 100 bytes a file held would be 4 MB; the bound is far below.
	if grown := int64(h.max) - int64(base); grown > 1<<20 {
		t.Errorf("the live heap grew by %d bytes while checking %d files not listed: held per file", grown, files)
	}
}
