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

// --platform of a platform the index pinned in the release has not named
// the index's digest twice, "image HOST/REPO@sha256:X (FILE:LINE): sha256:X
// has no manifest for platform linux/s390x". Now once, by the reference
// where the release pins it, and by its digest where a tag names it.
func TestCreatePlatformMissingNamesIndexOnce(t *testing.T) {
	src := testutil.Registry(t)
	r := rawRepo{t, src, "app/missing"}
	idx, _, _ := r.twoPlatforms()
	r.tag(idx, "1.0")
	for _, ref := range []string{src + "/" + r.name + "@" + idx.Digest.String(), src + "/" + r.name + ":1.0"} {
		release := filepath.Join(t.TempDir(), "release.txt")
		if err := os.WriteFile(release, []byte(ref+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		opts := createOpts(t, release, "", filepath.Join(t.TempDir(), "bundle"))
		opts.Version, opts.Platform, opts.AllowTags = "2025.10.0", "linux/s390x", true
		_, err := mirror.Create(context.Background(), opts)
		t.Logf("create %s: %v", ref, err)
		if !errors.Is(err, errdef.ErrNotFound) || strings.Count(err.Error(), idx.Digest.String()) != 1 ||
			!strings.Contains(err.Error(), "no manifest for platform linux/s390x") {
			t.Errorf("create %s --platform linux/s390x: err = %v, want ErrNotFound saying no manifest for platform linux/s390x, naming %s once", ref, err, idx.Digest)
		}
	}
}
