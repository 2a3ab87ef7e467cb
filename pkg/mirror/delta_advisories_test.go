package mirror_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// A delta bundle omits the advisories its base already carried. Importing
// it with --advisories-dir must still write every advisory it lists (their
// bytes are in the target's bundle repository, put there by the base), as
// it does for a full bundle: from a directory it failed (the omitted blob
// was read from the directory, exit 2); from an archive it succeeded and
// silently wrote none of them.
func TestDeltaImportWritesOmittedAdvisories(t *testing.T) {
	ctx := context.Background()
	baseDir, deltaDir, pub := deltaWithAdvisories(t)
	m := readManifest(t, deltaDir)
	if m.Base == nil || len(m.Advisories) == 0 {
		t.Fatalf("not a delta with advisories: %+v", m.Base)
	}
	deltaTar := filepath.Join(t.TempDir(), "delta.tar")
	if _, err := mirror.Pack(ctx, mirror.PackOptions{Dir: deltaDir, Output: deltaTar}); err != nil {
		t.Fatal(err)
	}
	// Another tool's compression (no seek table): read as one stream.
	deltaStream := testutil.ForeignArchive(t, deltaTar, "delta.tar.gz")
	for _, src := range []string{deltaDir, deltaTar, deltaStream} {
		t.Run(filepath.Base(src), func(t *testing.T) {
			target := testutil.Registry(t)
			if _, err := mirror.Import(ctx, importOpts(t, baseDir, target, pub)); err != nil {
				t.Fatal(err)
			}
			io := importOpts(t, src, target, pub)
			io.AdvisoriesDir = filepath.Join(t.TempDir(), "advisories")
			res, err := mirror.Import(ctx, io)
			if err != nil {
				t.Fatalf("import delta: %v", err)
			}
			for _, f := range m.Advisories {
				p := filepath.Join(io.AdvisoriesDir, filepath.FromSlash(f.Path[len("advisories/"):]))
				if st, err := os.Stat(p); err != nil || st.Size() != f.Size {
					t.Errorf("advisory %s not written (%v)", f.Path, err)
				}
			}
			if len(res.Advisories) != len(m.Advisories) {
				t.Errorf("result lists %d advisories, the bundle %d", len(res.Advisories), len(m.Advisories))
			}
		})
	}
}

// deltaWithAdvisories makes two signed bundles of the sample release, the
// second (release 2025.11.0, other images, the same advisories) a delta on
// the first, and returns their directories and the signer's public key.
func deltaWithAdvisories(t *testing.T) (baseDir, deltaDir, pub string) {
	t.Helper()
	ctx := context.Background()
	source := testutil.Registry(t)
	spec := sample.Spec{}
	_, releaseA, advisories := testutil.PushSample(t, source, spec)
	spec.Variant, spec.Version = 5, "2025.11.0"
	_, releaseB, _ := testutil.PushSample(t, source, spec)

	var priv string
	priv, pub = testKeys(t, "signer")
	baseDir = filepath.Join(t.TempDir(), "base")
	if _, err := mirror.Create(ctx, createOpts(t, releaseA, advisories, baseDir)); err != nil {
		t.Fatal(err)
	}
	sign(t, baseDir, priv)
	deltaDir = filepath.Join(t.TempDir(), "delta")
	opts := createOpts(t, releaseB, advisories, deltaDir)
	opts.Base, opts.BaseTrust = baseDir, trustKeys(pub)
	if _, err := mirror.Create(ctx, opts); err != nil {
		t.Fatal(err)
	}
	sign(t, deltaDir, priv)
	return baseDir, deltaDir, pub
}
