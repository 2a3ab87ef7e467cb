package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestVolumeWithBytesAppendedIsNamed: the last volume of a split .tar,
// .tar.zst or .tar.gz with bytes appended (a copy tool's padding, cat >>)
// is not what its list says, and import, verify and verify-checksums
// refuse it as they refuse any volume so (exit 2, nothing tagged), unlike
// a single archive, which has no list: the list pins each volume's size
// and SHA-256. The error now says the volume holds the one listed, hashing
// right, with bytes after it, and how to give it back; it said only that
// its size or digest differed, as for a corrupt or truncated volume.
func TestVolumeWithBytesAppendedIsNamed(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	ctx := context.Background()
	for _, suffix := range []string{".tar", ".tar.zst", ".tar.gz"} {
		t.Run(suffix, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "bundle"+suffix)
			res, err := mirror.Pack(ctx, mirror.PackOptions{Dir: s.dir, Output: out, Split: 256 << 10, Key: s.priv, Password: testPass})
			if err != nil {
				t.Fatal(err)
			}
			lastVol := res.Volumes[len(res.Volumes)-1]
			last := filepath.Join(filepath.Dir(out), lastVol.Name)
			f, err := os.OpenFile(last, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteString("JUNKJUNK"); err != nil {
				t.Fatal(err)
			}
			f.Close()
			want := fmt.Sprintf("volume %s holds the %d bytes its list says, hashing right, and 8 bytes appended after them", lastVol.Name, lastVol.Size)
			mend := fmt.Sprintf("truncate -s %d %s", lastVol.Size, last)
			check := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, errdef.ErrDigestMismatch) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), mend) {
					t.Errorf("%s of %s with bytes appended to its last volume: %v; want a digest mismatch saying %q and %q", what, suffix, err, want, mend)
				}
			}
			_, err = mirror.Verify(ctx, mirror.VerifyOptions{Envelope: res.VolumeList, Trust: trustKeys(s.pub), Now: testNow})
			check("verify", err)
			_, err = mirror.VerifyVolumes(ctx, res.VolumeList, trustKeys(s.pub), 2)
			check("verify-checksums", err)
			target := testutil.Registry(t)
			_, err = mirror.Import(ctx, importOpts(t, res.VolumeList, target, s.pub))
			check("import", err)
			for repo, tags := range testutil.Tags(t, target) {
				if len(tags) > 0 {
					t.Errorf("%s tagged %v after a refused import", repo, tags)
				}
			}
			// Cut back as told, the set imports.
			if err := os.Truncate(last, lastVol.Size); err != nil {
				t.Fatal(err)
			}
			imported, err := mirror.Import(ctx, importOpts(t, res.VolumeList, target, s.pub))
			if err != nil {
				t.Fatalf("import once truncated: %v", err)
			}
			assertImported(t, s, target, imported)
		})
	}
}
