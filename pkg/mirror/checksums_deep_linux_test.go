package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestVerifyChecksumsHostileDepth: verify-checksums' walk held a
// directory open (and a batch of its entries) for every level it was in,
// so a bundle directory with a chain of 600 nested directories, a file at
// its end, ran out of file descriptors under a low `ulimit -n` ("too many
// open files", exit 1), and one some 2000 deep passed PATH_MAX ("file
// name too long"): a hostile bundle made the check fail as if the machine
// had. A directory past 32 levels and deeper than any SHA256SUMS lists a
// file in can hold no listed file: it is not entered, but named as not
// listed, exit 2, as any file SHA256SUMS does not list (found by review).
func TestVerifyChecksumsHostileDepth(t *testing.T) {
	dir := newBundle(t)
	os.Remove(filepath.Join(dir, "SHA256SUMS.sig"))
	deep := filepath.Join(append([]string{dir}, strings.Split(strings.Repeat("d/", 600), "/")...)...)
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(deep, "x"), "x")

	var err error
	testutil.WithFewDescriptors(t, 64, func() {
		_, err = mirror.VerifyChecksums(context.Background(), mirror.ChecksumsOptions{Dir: dir, Concurrency: 1})
	})
	if !errors.Is(err, errdef.ErrDigestMismatch) || errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "1 files disagree") || !strings.Contains(err.Error(), "d/d/d/ (not listed") {
		t.Errorf("verify-checksums of a bundle with 600 nested directories: %v; want the directory below the deepest listed named as not listed, a digest mismatch", err)
	}
}
