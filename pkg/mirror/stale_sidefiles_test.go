package mirror_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestStaleSideFilesNotCarried: SHA256SUMS and SHA256SUMS.sig of another
// bundle by the same signer verify with a key that signed this envelope,
// so import from the media carried them to the far registry as this
// root's files referrer: a signed list of another bundle's files, which
// `cosign verify-blob` passes and which no reader pairs with this
// signature. Side files are now carried only when SHA256SUMS lists this
// manifest.dsse, as readers of a registry pair them; otherwise they are
// left behind and reported (filesNotCarried).
func TestStaleSideFilesNotCarried(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	older := newSignedSample(t, sample.Spec{Variant: 3}, 0)
	sign(t, older.dir, s.priv)
	stale := copyBundle(t, s.dir)
	for _, name := range []string{layout.ChecksumsFile, layout.ChecksumsSigFile, layout.PublicKeyFile} {
		data, err := os.ReadFile(filepath.Join(older.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(stale, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, src := range []string{stale, packDir(t, stale)} {
		t.Run(filepath.Base(src), func(t *testing.T) {
			res, err := mirror.Import(ctx, importOpts(t, src, testutil.Registry(t), s.pub))
			if err != nil {
				t.Fatal(err)
			}
			assertFilesNotCarried(t, res, "SHA256SUMS lists another manifest.dsse")
		})
	}
}
