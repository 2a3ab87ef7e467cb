package mirror_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestBundleFileGivenForBundle: a file of a bundle directory given where
// the bundle goes (import DIR/manifest.dsse, as verify takes it; push,
// serve and inspect alike) was read as an archive and refused as
// "archive/tar: invalid tar header", exit 11, as if the media were
// damaged. It is refused as usage, naming the directory to give (found by
// review).
func TestBundleFileGivenForBundle(t *testing.T) {
	dir := newBundle(t)
	priv, pub := testKeys(t, "cosign")
	sign(t, dir, priv)
	for _, name := range []string{"manifest.dsse", "manifest.json", "index.json"} {
		file := filepath.Join(dir, name)
		_, err := mirror.Import(context.Background(), importOpts(t, file, testutil.Registry(t), pub))
		if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), "give "+dir) {
			t.Errorf("import %s: %v; want a usage error naming the bundle directory", name, err)
		}
	}
}

// TestVerifyBundleFileNotEnvelope: verify given a file of a bundle
// directory other than its envelope (verify bundle/manifest.json, as sign
// takes it; index.json) failed exit 11, malformed, as a damaged bundle
// does, where import of a file of it is refused as usage (exit 1): a
// script, or an operator following TROUBLESHOOT's row 11, took a sound
// bundle for damaged media. It is refused as usage, naming the envelope
// and the directory to give (found by review).
func TestVerifyBundleFileNotEnvelope(t *testing.T) {
	dir := newBundle(t)
	priv, pub := testKeys(t, "cosign")
	sign(t, dir, priv)
	for _, name := range []string{"manifest.json", "index.json", "SHA256SUMS"} {
		_, err := mirror.Verify(context.Background(), mirror.VerifyOptions{Envelope: filepath.Join(dir, name), Trust: trustKeys(pub), Now: testNow})
		if !errors.Is(err, errdef.ErrUsage) || errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), filepath.Join(dir, "manifest.dsse")) {
			t.Errorf("verify %s: %v; want a usage error naming %s", name, err, filepath.Join(dir, "manifest.dsse"))
		}
	}
	if _, err := mirror.Verify(context.Background(), mirror.VerifyOptions{Envelope: filepath.Join(dir, "manifest.dsse"), Trust: trustKeys(pub), Now: testNow}); err != nil {
		t.Errorf("verify of the envelope: %v", err)
	}
}
