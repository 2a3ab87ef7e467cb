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

// TestMissingBundleReferenceOnce: a bundle reference the registry does not
// hold (a mistyped tag or repository) is "not found" (exit 1) on a line
// that names the reference once and says what is missing; it said
// "bundle REF: REF: not found".
func TestMissingBundleReferenceOnce(t *testing.T) {
	ctx := context.Background()
	host := testutil.Distribution(t)
	client := testutil.Client(t)
	ref := host + "/stellaops/mirror-bundle:9.9.9"
	_, err := mirror.Pull(ctx, mirror.PullOptions{Reference: ref, Output: filepath.Join(t.TempDir(), "out"), Client: client, Transfer: transferOpts()})
	if !errors.Is(err, errdef.ErrNotFound) {
		t.Fatalf("err = %v, want %v", err, errdef.ErrNotFound)
	}
	want := "bundle " + ref + ": the registry holds no such repository, tag or digest"
	if !strings.Contains(err.Error(), want) || strings.Count(err.Error(), ref) != 1 {
		t.Errorf("error %q: want %q, the reference named once", err, want)
	}
}
