package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestFileKindNamedAlike: a file of a bundle directory that is not a
// regular file is named by what it is in the words of layout.FileKind,
// whichever command meets it. A symlinked file in docs/ or advisories/ was
// "is a symlink" to verify and "is a symbolic link" to verify-checksums, and
// a named pipe was "not a regular file" to verify-checksums and "a named
// pipe" to verify (found by review).
func TestFileKindNamedAlike(t *testing.T) {
	base := newBundle(t)
	priv, pub := testKeys(t, "cosign")
	sign(t, base, priv)
	advisories, err := filepath.Glob(filepath.Join(base, "advisories", "*.json*"))
	if err != nil || len(advisories) == 0 {
		t.Fatalf("no advisory in the sample bundle: %v", err)
	}
	sort.Strings(advisories)
	advisory, _ := filepath.Rel(base, advisories[0])
	advisory = filepath.ToSlash(advisory)

	symlink := func(t *testing.T, p string) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(t.TempDir(), filepath.Base(p))
		if err := os.WriteFile(target, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	fifo := func(t *testing.T, p string) {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		mkfifo(t, p)
	}
	for _, tt := range []struct {
		name, rel string
		make      func(*testing.T, string)
		// verify and checksums are what verify and verify-checksums say
		// after the file's path.
		verify, checksums string
	}{
		{"symlink in docs", "docs/INSTALL.md", symlink, ": is a symbolic link", " (is a symbolic link)"},
		{"symlink in advisories", advisory, symlink, ": is a symbolic link", " (is a symbolic link)"},
		{"named pipe in scripts", "scripts/verify.sh", fifo, ": not a regular file (a named pipe)", " (is a named pipe)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyBundle(t, base)
			p := filepath.Join(dir, filepath.FromSlash(tt.rel))
			tt.make(t, p)
			// within: a named pipe opened for reading would wait for a
			// writer; the test fails rather than hangs.
			err := within(t, p, func() error {
				_, err := mirror.Verify(context.Background(), mirror.VerifyOptions{Envelope: dir, Trust: trustKeys(pub), Now: testNow})
				return err
			})
			if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), p+tt.verify) {
				t.Errorf("verify: %v, want errdef.ErrMalformed naming %q", err, p+tt.verify)
			}
			_, err = mirror.VerifyChecksums(context.Background(), mirror.ChecksumsOptions{Dir: dir, Trust: trustKeys(pub)})
			if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), tt.rel+tt.checksums) {
				t.Errorf("verify-checksums: %v, want errdef.ErrMalformed naming %q", err, tt.rel+tt.checksums)
			}
		})
	}
}
