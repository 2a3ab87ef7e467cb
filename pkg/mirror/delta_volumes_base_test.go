package mirror_test

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestDeltaOnSplitArchiveBase: a base bundle carried as the volumes of a
// pack --split is given to create --base by its list,
// bundle.tar.zst.volumes.json, as import takes it.
func TestDeltaOnSplitArchiveBase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := newSignedSample(t, sample.Spec{}, 100)
	for _, key := range []string{"", a.priv} {
		res, err := mirror.Pack(ctx, mirror.PackOptions{Dir: a.dir, Output: filepath.Join(t.TempDir(), "bundle.tar.zst"), Split: 256 << 10, Key: key, Password: testPass})
		if err != nil {
			t.Fatal(err)
		}
		_, releaseB, advB := testutil.PushSample(t, a.source, sample.Spec{Variant: 5, Version: "2025.11.0"})
		create := func(base string) *mirror.CreateResult {
			t.Helper()
			opts := createOpts(t, releaseB, advB, filepath.Join(t.TempDir(), "delta"))
			opts.Base, opts.BaseTrust = base, trustKeys(a.pub)
			r, err := mirror.Create(ctx, opts)
			if err != nil {
				t.Fatalf("create --base %s (volume list signed: %t): %v", base, key != "", err)
			}
			return r
		}
		want, got := create(a.dir).Manifest.Base, create(res.VolumeList).Manifest.Base
		if !reflect.DeepEqual(got, want) {
			t.Errorf("base from the volumes %+v, from the directory %+v", got, want)
		}
	}
}
