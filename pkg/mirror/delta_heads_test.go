package mirror_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestDeltaAsksOnce imports a delta bundle with --advisories-dir, from a
// directory, an archive read at random and one read as a stream. The
// advisories the delta omits are written from the target's copy. Whether
// the target holds each blob is asked once: each blob the delta omits was
// asked twice, by the check that the base is there and again ahead of the
// blobs' turn, and an omitted advisory a third time in its turn
// (placeFromTarget), with both answers in.
func TestDeltaAsksOnce(t *testing.T) {
	ctx := context.Background()
	baseDir, deltaDir, pub := deltaWithAdvisories(t)
	m := readManifest(t, deltaDir)
	omitted := m.OmittedSet()
	var advisory bundle.File
	for _, f := range m.Advisories {
		if omitted[f.Digest] {
			advisory = f
		}
	}
	if advisory.Digest == "" {
		t.Fatalf("the delta omits no advisory: %+v", m.Base)
	}
	deltaTar := filepath.Join(t.TempDir(), "delta.tar")
	if _, err := mirror.Pack(ctx, mirror.PackOptions{Dir: deltaDir, Output: deltaTar}); err != nil {
		t.Fatal(err)
	}
	// Another tool's compression (no seek table): read as one stream.
	stream := testutil.ForeignArchive(t, deltaTar, "delta.tar.gz")
	for _, src := range []string{deltaDir, deltaTar, stream} {
		t.Run(filepath.Base(src), func(t *testing.T) {
			log := &requestLog{blobHEAD: map[string]int{}}
			target := testutil.RegistryWrapped(t, log.wrap)
			if _, err := mirror.Import(ctx, importOpts(t, baseDir, target, pub)); err != nil {
				t.Fatal(err)
			}
			log.forget()
			io := importOpts(t, src, target, pub)
			io.AdvisoriesDir = filepath.Join(t.TempDir(), "advisories")
			if _, err := mirror.Import(ctx, io); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(io.AdvisoriesDir, strings.TrimPrefix(advisory.Path, "advisories/"))); err != nil {
				t.Errorf("omitted advisory not written: %v", err)
			}
			log.mu.Lock()
			defer log.mu.Unlock()
			if n := log.blobHEAD["/v2/stellaops/mirror-bundle/blobs/"+advisory.Digest.String()]; n != 1 {
				t.Errorf("omitted advisory %s: %d HEADs, want 1", advisory.Digest, n)
			}
			for path, n := range log.blobHEAD {
				if n > 1 {
					t.Errorf("HEAD %s sent %d times", path, n)
				}
			}
		})
	}
}
