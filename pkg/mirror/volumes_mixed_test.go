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

// TestSplitVolumeOfAnotherSet: a volume of a plain tar's split set
// replaced by the volume of the same name and size of another set (a
// pack --split --force over it cut short on media whose writes reach the
// disk out of order, a volume copied from the wrong stick). verify named
// the volume that differs from the signed list (exit 2); import and push
// read on through the tar, which still parsed, and said only that an entry
// was no part of the bundle (exit 11) or that "its copy of blob … is
// damaged", naming the volume list, not the volume. Each now names the
// volume (exit 2), and nothing is tagged.
func TestSplitVolumeOfAnotherSet(t *testing.T) {
	ctx := context.Background()
	a := newSignedSample(t, sample.Spec{Seed: 1}, 0)
	// The next release, signed with the same key.
	b := &signedSample{source: testutil.Registry(t), pub: a.pub, priv: a.priv}
	var releaseFile, advisories string
	b.rel, releaseFile, advisories = testutil.PushSample(t, b.source, sample.Spec{Seed: 2})
	b.dir = filepath.Join(t.TempDir(), "bundle")
	if _, err := mirror.Create(ctx, createOpts(t, releaseFile, advisories, b.dir)); err != nil {
		t.Fatal(err)
	}
	sign(t, b.dir, a.priv)
	pack := func(s *signedSample) *mirror.PackResult {
		res, err := mirror.Pack(ctx, mirror.PackOptions{Dir: s.dir, Output: filepath.Join(t.TempDir(), "bundle.tar"), Split: 128 << 10})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	resA, resB := pack(a), pack(b)
	if len(resA.Volumes) < 3 || len(resB.Volumes) != len(resA.Volumes) {
		t.Fatalf("volumes: %d and %d", len(resA.Volumes), len(resB.Volumes))
	}
	for i, v := range resA.Volumes[:len(resA.Volumes)-1] {
		t.Run(v.Name, func(t *testing.T) {
			media := t.TempDir()
			for _, f := range append([]string{filepath.Base(resA.VolumeList)}, volumeNames(resA)...) {
				data, err := os.ReadFile(filepath.Join(filepath.Dir(resA.VolumeList), f))
				if err != nil {
					t.Fatal(err)
				}
				if f == v.Name {
					data, _ = os.ReadFile(filepath.Join(filepath.Dir(resB.VolumeList), resB.Volumes[i].Name))
				}
				if err := os.WriteFile(filepath.Join(media, f), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			list := filepath.Join(media, filepath.Base(resA.VolumeList))
			want := "volume " + v.Name + " is corrupt"
			check := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, errdef.ErrDigestMismatch) || !strings.Contains(err.Error(), want) {
					t.Errorf("%s of a set holding another set's %s: %v, want a digest mismatch naming it", what, v.Name, err)
				}
			}
			target := testutil.Registry(t)
			_, err := mirror.Import(ctx, importOpts(t, list, target, a.pub))
			check("import", err)
			_, err = mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: list, Reference: target + "/stellaops/mirror-bundle",
				Trust: trustKeys(a.pub), Client: testutil.Client(t), Transfer: transferOpts()})
			check("push", err)
			for repo, tags := range testutil.Tags(t, target) {
				if len(tags) > 0 {
					t.Errorf("%s tagged %v after a failed import", repo, tags)
				}
			}
			_, err = mirror.Verify(ctx, mirror.VerifyOptions{Envelope: list, Trust: trustKeys(a.pub), Now: testNow})
			check("verify", err)
		})
	}
}

func volumeNames(res *mirror.PackResult) []string {
	var names []string
	for _, v := range res.Volumes {
		names = append(names, v.Name)
	}
	return names
}
