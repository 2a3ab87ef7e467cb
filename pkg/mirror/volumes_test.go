package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestSplitVolumes packs a bundle into signed volumes, checks them one by
// one, imports straight from the set, and names a corrupt or missing
// volume (with nothing tagged).
func TestSplitVolumes(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "bundle.tar.zst")
	res, err := mirror.Pack(ctx, mirror.PackOptions{Dir: s.dir, Output: out, Split: 256 << 10, Key: s.priv, Password: testPass})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Volumes) < 3 || res.VolumeList != out+".volumes.json" || res.Signature == "" {
		t.Fatalf("pack --split: %+v", res)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("a split pack also wrote the whole archive")
	}
	// The volumes joined are the very archive an unsplit pack writes.
	whole := filepath.Join(t.TempDir(), "bundle.tar.zst")
	if _, err := mirror.Pack(ctx, mirror.PackOptions{Dir: s.dir, Output: whole}); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(whole)
	var joined []byte
	for _, v := range res.Volumes {
		data, _ := os.ReadFile(filepath.Join(filepath.Dir(out), v.Name))
		joined = append(joined, data...)
	}
	if !reflect.DeepEqual(joined, want) {
		t.Fatal("the volumes joined differ from the unsplit archive")
	}
	if _, err := mirror.VerifyVolumes(ctx, res.VolumeList, trustKeys(s.pub), 2); err != nil {
		t.Fatal(err)
	}
	_, other := testKeys(t, "other")
	if _, err := mirror.VerifyVolumes(ctx, res.VolumeList, trustKeys(other), 2); !errors.Is(err, errdef.ErrSignature) {
		t.Errorf("volume list with another key: %v", err)
	}

	target := testutil.Registry(t)
	imported, err := mirror.Import(ctx, importOpts(t, res.VolumeList, target, s.pub))
	if err != nil {
		t.Fatal(err)
	}
	assertImported(t, s, target, imported)

	// A corrupt volume is named, by the check and by import.
	second := filepath.Join(filepath.Dir(out), res.Volumes[1].Name)
	flipByte(t, second, 1000)
	if _, err := mirror.VerifyVolumes(ctx, res.VolumeList, trustKeys(s.pub), 2); !errors.Is(err, errdef.ErrDigestMismatch) || !strings.Contains(err.Error(), res.Volumes[1].Name) {
		t.Errorf("corrupt volume: %v", err)
	}
	fresh := testutil.Distribution(t)
	// Compressed volumes are read at random (pack's seek table): the frame
	// that fails names the volume whose bytes differ from the list.
	if _, err := mirror.Import(ctx, importOpts(t, res.VolumeList, fresh, s.pub)); !errors.Is(err, errdef.ErrDigestMismatch) || errors.Is(err, errdef.ErrMalformed) ||
		!strings.Contains(err.Error(), "the frame at archive byte") || !strings.Contains(err.Error(), "volume "+res.Volumes[1].Name+" is corrupt") {
		t.Errorf("import from a corrupt volume: %v", err)
	}
	for repo, tags := range testutil.Tags(t, fresh) {
		if len(tags) > 0 {
			t.Errorf("%s tagged %v after a failed import", repo, tags)
		}
	}
	// A missing volume is named before anything is read.
	os.Remove(second)
	if _, err := mirror.VerifyVolumes(ctx, res.VolumeList, mirror.TrustOptions{}, 2); !errors.Is(err, errdef.ErrNotFound) || !strings.Contains(err.Error(), res.Volumes[1].Name) {
		t.Errorf("missing volume: %v", err)
	}
	if _, err := mirror.Import(ctx, importOpts(t, res.VolumeList, fresh, s.pub)); !errors.Is(err, errdef.ErrNotFound) || !strings.Contains(err.Error(), res.Volumes[1].Name) {
		t.Errorf("import with a missing volume: %v", err)
	}
}
