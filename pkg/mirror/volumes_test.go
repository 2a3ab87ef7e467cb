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
	// The kind of failure ends the line once ("…: digest mismatch", not
	// "…: digest mismatch: digest mismatch").
	if _, err := mirror.VerifyVolumes(ctx, res.VolumeList, trustKeys(s.pub), 2); !errors.Is(err, errdef.ErrDigestMismatch) || !strings.Contains(err.Error(), res.Volumes[1].Name) ||
		strings.Count(err.Error(), errdef.ErrDigestMismatch.Error()) != 1 {
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
	// verify reads the volumes as one stream; the frame that fails to
	// decode was a malformed archive there (exit 11) where import and
	// verify-checksums say mismatch (exit 2): it too names the volume.
	if _, err := mirror.Verify(ctx, mirror.VerifyOptions{Envelope: res.VolumeList, Trust: trustKeys(s.pub), Now: testNow}); !errors.Is(err, errdef.ErrDigestMismatch) || errors.Is(err, errdef.ErrMalformed) ||
		!strings.Contains(err.Error(), "volume "+res.Volumes[1].Name+" is corrupt") {
		t.Errorf("verify of a corrupt volume: %v", err)
	}
	// A missing volume is named before anything is read.
	os.Remove(second)
	if _, err := mirror.VerifyVolumes(ctx, res.VolumeList, mirror.TrustOptions{}, 2); !errors.Is(err, errdef.ErrNotFound) || !strings.Contains(err.Error(), "volume "+res.Volumes[1].Name+" is missing") ||
		strings.Count(err.Error(), errdef.ErrNotFound.Error()) != 1 {
		t.Errorf("missing volume: %v", err)
	}
	if _, err := mirror.Import(ctx, importOpts(t, res.VolumeList, fresh, s.pub)); !errors.Is(err, errdef.ErrNotFound) || !strings.Contains(err.Error(), res.Volumes[1].Name) {
		t.Errorf("import with a missing volume: %v", err)
	}
}

// TestSplitPackKeyOpensFirst: pack --split --key opened the key only after
// the volumes had taken their names. A wrong password then left volumes
// without a list, and with --force it replaced a good set's volumes while
// its old list and signature stayed, naming other bytes. Now the set on
// disk is left as it was, byte for byte. Packed again without --key, the
// old set's signature, over another list, is removed.
func TestSplitPackKeyOpensFirst(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	ctx := context.Background()
	dir := t.TempDir()
	out := filepath.Join(dir, "bundle.tar")
	if _, err := mirror.Pack(ctx, mirror.PackOptions{Dir: s.dir, Output: out, Split: 256 << 10, Key: s.priv, Password: testPass}); err != nil {
		t.Fatal(err)
	}
	files := func() map[string]string {
		got := map[string]string{}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			got[e.Name()] = string(data)
		}
		return got
	}
	before := files()
	wrong := func() ([]byte, error) { return []byte("wrong"), nil }
	// A smaller volume size: a set of other volumes, had it been written.
	_, err := mirror.Pack(ctx, mirror.PackOptions{Dir: s.dir, Output: out, Split: 128 << 10, Key: s.priv, Password: wrong, Force: true})
	if err == nil {
		t.Fatal("pack --split with a wrong password succeeded")
	}
	if after := files(); !reflect.DeepEqual(after, before) {
		var names []string
		for n := range after {
			names = append(names, n)
		}
		t.Fatalf("a failed pack --split --force changed the set on disk: %v", names)
	}
	res, err := mirror.Pack(ctx, mirror.PackOptions{Dir: s.dir, Output: out, Split: 128 << 10, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(out + ".volumes.dsse"); !os.IsNotExist(err) {
		t.Fatalf("the old set's signature is still beside the unsigned list (stat: %v)", err)
	}
	if _, err := mirror.VerifyVolumes(ctx, res.VolumeList, mirror.TrustOptions{}, 2); err != nil {
		t.Fatal(err)
	}
	// Fewer, larger volumes: the previous set's volumes past the last are
	// removed, so that the names hold one set.
	res, err = mirror.Pack(ctx, mirror.PackOptions{Dir: s.dir, Output: out, Split: 1 << 20, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{filepath.Base(res.VolumeList): true}
	for _, v := range res.Volumes {
		want[v.Name] = true
	}
	for name := range files() {
		if !want[name] {
			t.Errorf("%s is left beside a set of %d volumes", name, len(res.Volumes))
		}
	}
	// Without --force, volumes already there (with or without their list)
	// are not replaced.
	if err := os.Remove(res.VolumeList); err != nil {
		t.Fatal(err)
	}
	if _, err := mirror.Pack(ctx, mirror.PackOptions{Dir: s.dir, Output: out, Split: 1 << 20}); !errors.Is(err, errdef.ErrExists) {
		t.Fatalf("pack --split over %s without --force: %v, want ErrExists", res.Volumes[0].Name, err)
	}
}

// TestSplitPackLeavesOthersFiles: without --force, pack --split replaces
// no file it did not write. A file named as one of the new set's volumes
// (bundle.tar.002, with no bundle.tar.000 before it: another tool's, or
// left by hand) is refused by name and left as it was; it used to be
// renamed over. With --force it is replaced.
func TestSplitPackLeavesOthersFiles(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "bundle.tar")
	theirs := out + ".002"
	if err := os.WriteFile(theirs, []byte("not stella's"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := mirror.PackOptions{Dir: s.dir, Output: out, Split: 128 << 10}
	if _, err := mirror.Pack(ctx, opts); !errors.Is(err, errdef.ErrExists) || !strings.Contains(err.Error(), theirs+": already exists") {
		t.Errorf("pack --split over another's %s: %v", filepath.Base(theirs), err)
	}
	if data, _ := os.ReadFile(theirs); string(data) != "not stella's" {
		t.Fatalf("%s changed", theirs)
	}
	if _, err := os.Lstat(out + ".000"); !os.IsNotExist(err) {
		t.Errorf("a refused pack --split left volumes (stat: %v)", err)
	}
	opts.Force = true
	res, err := mirror.Pack(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Volumes) < 3 {
		t.Fatalf("%d volumes: the test needs bundle.tar.002 among them", len(res.Volumes))
	}
	if _, err := mirror.VerifyVolumes(ctx, res.VolumeList, mirror.TrustOptions{}, 2); err != nil {
		t.Fatal(err)
	}
}

// TestSplitVolumesSwapped: two volumes of one size copied off their media
// under each other's names. Every volume decodes, so the archive read as a
// tar met a bad header there: import and serve said "invalid tar header:
// malformed" (exit 11) naming no volume, verify the same with the volume
// being read. Now each says which volume differs from the signed list and
// which one it holds (exit 2), and nothing is tagged.
func TestSplitVolumesSwapped(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "bundle.tar.zst")
	res, err := mirror.Pack(ctx, mirror.PackOptions{Dir: s.dir, Output: out, Split: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	first, second := filepath.Join(filepath.Dir(out), res.Volumes[0].Name), filepath.Join(filepath.Dir(out), res.Volumes[1].Name)
	os.Rename(first, first+".x")
	os.Rename(second, first)
	os.Rename(first+".x", second)
	want := "volume " + res.Volumes[0].Name + " is corrupt"
	holds := "(it holds " + res.Volumes[1].Name + ": volumes swapped or misnamed?"
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, errdef.ErrDigestMismatch) || errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), holds) {
			t.Errorf("%s: %v", what, err)
		}
	}
	target := testutil.Registry(t)
	_, err = mirror.Import(ctx, importOpts(t, res.VolumeList, target, s.pub))
	check("import", err)
	for repo, tags := range testutil.Tags(t, target) {
		if len(tags) > 0 {
			t.Errorf("%s tagged %v after a failed import", repo, tags)
		}
	}
	_, err = mirror.Verify(ctx, mirror.VerifyOptions{Envelope: res.VolumeList, Trust: trustKeys(s.pub), Now: testNow})
	check("verify", err)
	b, err := mirror.OpenServed(ctx, mirror.ServeOptions{Path: res.VolumeList, Trust: trustKeys(s.pub), Now: testNow})
	if err == nil {
		b.Close()
	}
	check("serve", err)
}
