package mirror_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestSyncManifestGoneFromSource: an image manifest of the bundle that the
// source registry answers 404 for (deleted during the sync) fails the sync
// as a blob gone from it does, naming the source and the manifest once,
// exit 1 (ErrNotFound), "REF: manifest sha256:X: not found"; it said
// "fetch sha256:X: not found (digest mismatch)", exit 2, naming no source,
// as of a bundle directory that lacks what was signed, and then "fetch"
// for "manifest". So does a pull (found by review).
func TestSyncManifestGoneFromSource(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	gone := s.rel.Images[0].Descriptor.Digest
	source, lose := registryLosing(t, "manifests", "MANIFEST_UNKNOWN", gone)
	ref := source + "/stellaops/mirror-bundle:" + s.rel.Spec.Version
	pushSampleTo(t, s, ref)
	lose()
	_, err := mirror.Sync(context.Background(), mirror.SyncOptions{Now: testNow, Source: ref,
		Destination: testutil.Registry(t) + "/stellaops/mirror-bundle", Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
	t.Logf("sync: %v", err)
	if !errors.Is(err, errdef.ErrNotFound) || errors.Is(err, errdef.ErrDigestMismatch) || !strings.HasPrefix(err.Error(), ref+": manifest "+gone.String()+": not found") || strings.Count(err.Error(), gone.String()) != 1 {
		t.Errorf("sync: err = %v, want ErrNotFound (no digest mismatch) saying %s: manifest %s: not found, naming it once", err, ref, gone)
	}
	_, err = mirror.Pull(context.Background(), mirror.PullOptions{Reference: ref, Output: filepath.Join(t.TempDir(), "pulled"), Trust: trustKeys(s.pub),
		Client: testutil.Client(t), Transfer: transferOpts()})
	t.Logf("pull: %v", err)
	if !errors.Is(err, errdef.ErrNotFound) || errors.Is(err, errdef.ErrDigestMismatch) || !strings.HasPrefix(err.Error(), ref+": manifest "+gone.String()+": not found") || strings.Count(err.Error(), gone.String()) != 1 {
		t.Errorf("pull: err = %v, want ErrNotFound (no digest mismatch) saying %s: manifest %s: not found, naming it once", err, ref, gone)
	}
}
