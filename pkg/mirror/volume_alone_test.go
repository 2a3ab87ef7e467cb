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

// TestVolumeGivenAloneNamedSo: a volume of a split archive given alone,
// its list not beside it (the operator copied the volumes only) but
// another volume is, is told as one volume of a split archive, naming the
// list to give (errdef.ErrUsage, exit 1, as when the list lies beside it).
// verify, import, push, inspect and serve of bundle.tar.zst.000 said
// "archive is truncated" (exit 11), a damaged medium (found by review).
func TestVolumeGivenAloneNamedSo(t *testing.T) {
	s := newServedSample(t, sample.Spec{})
	out := filepath.Join(t.TempDir(), "bundle.tar.zst")
	res, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: s.dir, Output: out, Split: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Volumes) < 2 {
		t.Fatalf("%d volumes, want 2 or more", len(res.Volumes))
	}
	list := res.VolumeList
	ops := openers(s)
	ops["import"] = func(ctx context.Context, path string) error {
		_, err := mirror.Import(ctx, importOpts(t, path, testutil.Registry(t), s.pub))
		return err
	}
	ops["push"] = func(ctx context.Context, path string) error {
		_, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: path, Reference: testutil.Registry(t) + "/stellaops/mirror-bundle",
			Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
		return err
	}
	check := func(t *testing.T, vol string) {
		for name, open := range ops {
			err := open(context.Background(), vol)
			if !errors.Is(err, errdef.ErrUsage) || errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), vol+" is one volume of a split archive") || !strings.Contains(err.Error(), list) {
				t.Errorf("%s of %s: %v, want a usage error naming it one volume of a split archive and %s", name, filepath.Base(vol), err, list)
			}
		}
	}
	first, last := filepath.Join(filepath.Dir(out), res.Volumes[0].Name), filepath.Join(filepath.Dir(out), res.Volumes[len(res.Volumes)-1].Name)
	t.Run("list beside it", func(t *testing.T) { check(t, first) })
	if err := os.Rename(list, list+".away"); err != nil {
		t.Fatal(err)
	}
	t.Run("first, list not beside it", func(t *testing.T) { check(t, first) })
	t.Run("last, list not beside it", func(t *testing.T) { check(t, last) })
}
