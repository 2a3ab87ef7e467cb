package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// A listed file replaced by a symlink is refused once, as a symlink, and as
// verify refuses it (malformed, exit 11): not also as missing, and not as a
// checksum mismatch (exit 2), whatever the link points at.
func TestVerifyChecksumsSymlinkIsMalformedOnce(t *testing.T) {
	dir := newBundle(t)
	priv, pub := testKeys(t, "cosign")
	sign(t, dir, priv)
	path := filepath.Join(dir, "docs", "INSTALL.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "INSTALL.md")
	if err := os.WriteFile(copyPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(copyPath, path); err != nil {
		t.Fatal(err)
	}
	_, err = mirror.VerifyChecksums(context.Background(), mirror.ChecksumsOptions{Dir: dir, Trust: trustKeys(pub)})
	if !errors.Is(err, errdef.ErrMalformed) || errors.Is(err, errdef.ErrDigestMismatch) {
		t.Fatalf("verify-checksums of a bundle with a symlinked file: %v, want errdef.ErrMalformed alone", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "1 files disagree") || !strings.Contains(msg, "docs/INSTALL.md (is a symbolic link)") || strings.Contains(msg, "missing") {
		t.Fatalf("verify-checksums of a bundle with a symlinked file: %v, want docs/INSTALL.md named once, as a symlink", err)
	}
}

// The signature on SHA256SUMS is checked before its lines are read: a list
// with a line given twice, signed by nobody trusted, is refused as unsigned
// (exit 5), not as malformed (exit 11).
func TestVerifyChecksumsSignatureBeforeLines(t *testing.T) {
	dir := newBundle(t)
	priv, pub := testKeys(t, "cosign")
	sign(t, dir, priv)
	sums := filepath.Join(dir, "SHA256SUMS")
	data, err := os.ReadFile(sums)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(data), "\n")
	if err := os.WriteFile(sums, append(data, first+"\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = mirror.VerifyChecksums(context.Background(), mirror.ChecksumsOptions{Dir: dir, Trust: trustKeys(pub)})
	if !errors.Is(err, errdef.ErrSignature) || errors.Is(err, errdef.ErrMalformed) {
		t.Fatalf("verify-checksums --key of a SHA256SUMS with a line added: %v, want errdef.ErrSignature", err)
	}
}

// A file SHA256SUMS lists that is a named pipe on the medium is named once,
// as a named pipe (malformed, as verify says): it was also named
// missing, "2 files disagree with SHA256SUMS: scripts/verify.sh (not a
// regular file), scripts/verify.sh (missing)", of a file that is there
// (found by review).
func TestVerifyChecksumsListedNamedPipeNamedOnce(t *testing.T) {
	dir := newBundle(t)
	priv, pub := testKeys(t, "cosign")
	sign(t, dir, priv)
	script := filepath.Join(dir, "scripts", "verify.sh")
	if err := os.Remove(script); err != nil {
		t.Fatal(err)
	}
	mkfifo(t, script)
	_, err := mirror.VerifyChecksums(context.Background(), mirror.ChecksumsOptions{Dir: dir, Trust: trustKeys(pub)})
	if !errors.Is(err, errdef.ErrMalformed) || strings.Count(err.Error(), "scripts/verify.sh") != 1 || !strings.Contains(err.Error(), "scripts/verify.sh (is a named pipe)") {
		t.Errorf("verify-checksums with scripts/verify.sh a named pipe: %v", err)
	}
}

// TestVerifyChecksumsDirectoryNamedAsABlob: a directory in blobs/sha256,
// where only blobs are, is named once, as a directory, and refused as
// verify and sign refuse it (malformed, exit 11), whether its name is a
// blob's SHA256SUMS lists or not: verify-checksums passed an empty one
// (exit 0), named a full one's files "not listed" (exit 2), and a listed
// blob replaced by one "missing" (exit 2). A symlink there, to a blob of
// the bundle or out of it, was and is named as a symlink (exit 11).
func TestVerifyChecksumsDirectoryNamedAsABlob(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	blobs := s.blobFiles(t)
	listed := blobs[0].Name()
	other := digest.FromString("no blob of the bundle").Encoded()
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(outside, []byte("outside the bundle\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, entry, problem string
		make                 func(path string) error
	}{
		{"empty directory", other, "is a directory", func(p string) error { return os.Mkdir(p, 0o755) }},
		{"directory holding a file", other, "is a directory", func(p string) error {
			if err := os.Mkdir(p, 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(p, "notes.txt"), []byte("x\n"), 0o644)
		}},
		{"listed blob replaced by a directory", listed, "is a directory", func(p string) error {
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.Mkdir(p, 0o755)
		}},
		{"symlink to a blob of the bundle", other, "is a symbolic link", func(p string) error { return os.Symlink(listed, p) }},
		{"symlink out of the bundle", other, "is a symbolic link", func(p string) error { return os.Symlink(outside, p) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyBundle(t, s.dir)
			if err := tt.make(filepath.Join(dir, "blobs", "sha256", tt.entry)); err != nil {
				t.Fatal(err)
			}
			_, err := mirror.VerifyChecksums(context.Background(), mirror.ChecksumsOptions{Dir: dir, Trust: trustKeys(s.pub)})
			if !errors.Is(err, errdef.ErrMalformed) || errors.Is(err, errdef.ErrDigestMismatch) {
				t.Fatalf("verify-checksums with blobs/sha256/%s (%s): %v, want errdef.ErrMalformed alone (exit 11)", tt.entry, tt.name, err)
			}
			if msg := err.Error(); !strings.Contains(msg, "1 files disagree") || !strings.Contains(msg, "blobs/sha256/"+tt.entry+" ("+tt.problem+")") {
				t.Errorf("verify-checksums with blobs/sha256/%s (%s): %v, want it named once, as %q", tt.entry, tt.name, err, tt.problem)
			}
		})
	}
}
