package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	if msg := err.Error(); !strings.Contains(msg, "1 files disagree") || !strings.Contains(msg, "docs/INSTALL.md (is a symlink)") || strings.Contains(msg, "missing") {
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
// as not a regular file (malformed, as verify says): it was also named
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
	if !errors.Is(err, errdef.ErrMalformed) || strings.Count(err.Error(), "scripts/verify.sh") != 1 || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("verify-checksums with scripts/verify.sh a named pipe: %v", err)
	}
}
