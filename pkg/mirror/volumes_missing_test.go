package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestSplitMissingVolumeNamesDirectory: a missing volume of a split
// archive was named without where it was looked for ("volume
// bundle.tar.zst.001 is missing"), which tells an operator copying volumes
// from several sticks nothing about where the others went. It is now
// named with the directory of the list it was read from, absolute even
// for a list given by a relative path, by the check (verify-checksums)
// and by import, which reads it.
func TestSplitMissingVolumeNamesDirectory(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	ctx := context.Background()
	dir := t.TempDir()
	res, err := mirror.Pack(ctx, mirror.PackOptions{Dir: s.dir, Output: filepath.Join(dir, "bundle.tar.zst"), Split: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Volumes) < 2 {
		t.Fatalf("%d volumes", len(res.Volumes))
	}
	missing := res.Volumes[1].Name
	if err := os.Remove(filepath.Join(dir, missing)); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	list := filepath.Base(res.VolumeList)
	want := "volume " + missing + " is missing from " + dir
	if _, err := mirror.VerifyVolumes(ctx, list, mirror.TrustOptions{}, 2); !errors.Is(err, errdef.ErrNotFound) || !strings.Contains(err.Error(), want) {
		t.Errorf("verify-checksums %s: %v, want %q", list, err, want)
	}
	target := testutil.Registry(t)
	if _, err := mirror.Import(ctx, importOpts(t, list, target, s.pub)); !errors.Is(err, errdef.ErrNotFound) || !strings.Contains(err.Error(), want) {
		t.Errorf("import %s: %v, want %q", list, err, want)
	}
}
