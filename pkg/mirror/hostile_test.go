package mirror_test

import (
	"archive/tar"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/mirror"
)

// Regression tests for what the tamper corpus (internal/e2e) found, at the
// level of the library.

// writeEntries writes a plain tar of regular files.
func writeEntries(t *testing.T, entries map[string]string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hostile.tar")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for name, body := range entries {
		tw.WriteHeader(&tar.Header{Name: name, Size: int64(len(body)), Mode: 0o644, Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// An archive without index.json whose first entry is not a head file sent
// the reader into its out-of-order scan, which then indexed an empty list
// of missing manifests: a panic.
func TestArchiveWithoutIndex(t *testing.T) {
	path := writeEntries(t, map[string]string{layout.BlobName(digest.FromString("x")): "x"})
	_, err := mirror.Inspect(context.Background(), path, time.Now())
	if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "no index.json") {
		t.Fatalf("err = %v, want ErrMalformed naming index.json", err)
	}
}
