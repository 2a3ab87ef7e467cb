package mirror_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestFilesNotCarriedNoChecksumsSig: a signed bundle directory with a
// SHA256SUMS of its own and no SHA256SUMS.sig (as pull writes one whose
// side files it left behind) is imported with its SHA256SUMS left behind,
// said so: "no SHA256SUMS.sig". The reason said "SHA256SUMS.sig: not the
// base64 of a signature", of a file that is not there (found by review).
func TestFilesNotCarriedNoChecksumsSig(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	dir := copyBundle(t, s.dir)
	for _, name := range []string{"SHA256SUMS.sig", "public-key.pem"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	d, err := layout.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.WriteChecksums(true); err != nil {
		t.Fatal(err)
	}
	res, err := mirror.Import(context.Background(), importOpts(t, dir, testutil.Registry(t), s.pub))
	if err != nil {
		t.Fatal(err)
	}
	if left := res.FilesNotCarried; left == nil || !strings.Contains(left.Reason, "no SHA256SUMS.sig") || strings.Contains(left.Reason, "base64") {
		t.Errorf("files not carried %+v; want the reason to say there is no SHA256SUMS.sig", left)
	}
}
