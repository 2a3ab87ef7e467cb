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

// TestVerifyChecksumsNamesClutterWithItsRemedy: what a file manager leaves
// in a bundle directory (._NAME, .DS_Store, Thumbs.db, desktop.ini) is
// refused by verify-checksums as verify refuses it (malformed, exit 11),
// named as what it is with the way to remove it; it said "not listed"
// (exit 2), as of a file planted there, with no hint (found by review).
func TestVerifyChecksumsNamesClutterWithItsRemedy(t *testing.T) {
	dir := newBundle(t)
	priv, pub := testKeys(t, "cosign")
	sign(t, dir, priv)
	for _, name := range []string{"docs/._INSTALL.md", ".DS_Store", "Thumbs.db"} {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), []byte("\x00\x05\x16\x07"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := mirror.VerifyChecksums(context.Background(), mirror.ChecksumsOptions{Dir: dir, Trust: trustKeys(pub)})
	t.Logf("verify-checksums: %v", err)
	if !errors.Is(err, errdef.ErrMalformed) || errors.Is(err, errdef.ErrDigestMismatch) {
		t.Fatalf("verify-checksums: %v, want errdef.ErrMalformed alone", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"docs/._INSTALL.md (not listed: a macOS metadata file (AppleDouble), not part of the bundle)",
		".DS_Store (not listed: a macOS Finder file (.DS_Store), not part of the bundle)",
		"Thumbs.db (not listed: a Windows thumbnail cache (Thumbs.db), not part of the bundle)",
		"remove them (dot_clean " + dir + ", or find " + dir + " -name '._*' -delete -o -name .DS_Store -delete; find " + dir + " -iname Thumbs.db -delete",
	} {
		if !strings.Contains(msg, want) || strings.Contains(msg, "\n") {
			t.Errorf("verify-checksums: %v, want it to say %q in one line", err, want)
		}
	}
}

// TestVerifyChecksumsMismatchBeatsClutter: a bundle directory holding both
// a file whose bytes changed and what a file manager left there is
// refused as content damaged or altered (exit 2), the clutter still named
// with its remedy: the clutter made it "malformed" (exit 11), which hid
// the changed file behind a Finder's leftovers.
func TestVerifyChecksumsMismatchBeatsClutter(t *testing.T) {
	dir := newBundle(t)
	priv, pub := testKeys(t, "cosign")
	sign(t, dir, priv)
	if err := os.WriteFile(filepath.Join(dir, ".DS_Store"), []byte("\x00\x00\x00\x01Bud1"), 0o644); err != nil {
		t.Fatal(err)
	}
	changed := filepath.Join(dir, "docs", "INSTALL.md")
	if err := os.WriteFile(changed, []byte("altered\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := mirror.VerifyChecksums(context.Background(), mirror.ChecksumsOptions{Dir: dir, Trust: trustKeys(pub)})
	if !errors.Is(err, errdef.ErrDigestMismatch) || errors.Is(err, errdef.ErrMalformed) ||
		!strings.Contains(err.Error(), "docs/INSTALL.md (checksum mismatch)") || !strings.Contains(err.Error(), ".DS_Store (not listed: a macOS Finder file") {
		t.Errorf("verify-checksums: %v, want errdef.ErrDigestMismatch alone, naming the changed file and the clutter", err)
	}
}
