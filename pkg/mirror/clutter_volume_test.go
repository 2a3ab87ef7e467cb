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

// TestVolumeRootClutterNamedWithItsRemedy: a bundle directory that is the
// root of a stick holds what macOS (.Trashes, .fseventsd, .Spotlight-V100)
// and Windows (System Volume Information, $RECYCLE.BIN) write at a
// volume's root. verify, import, push, serve, sign and verify-checksums
// still refuse it (exit 11: nothing unsigned is vouched for), now naming
// what it is and that the bundle wants a directory of its own on the
// volume; they said "not part of the bundle (manifest.json does not name
// it)", as of a file planted there, and verify-checksums "not listed"
// (exit 2) (found by review).
func TestVolumeRootClutterNamedWithItsRemedy(t *testing.T) {
	t.Parallel()
	s := newSignedSample(t, sample.Spec{}, 0)
	for _, tt := range []struct{ name, what string }{
		{".Trashes/501/x", "a macOS volume's trash (.Trashes)"},
		{".fseventsd/fseventsd-uuid", "a macOS volume's file system event log (.fseventsd)"},
		{".Spotlight-V100/Store-V2/x", "a macOS volume's Spotlight index (.Spotlight-V100)"},
		{"System Volume Information/IndexerVolumeGuid", "a Windows volume's system folder (System Volume Information)"},
		{"$RECYCLE.BIN/desktop.ini", "a Windows volume's recycle bin ($RECYCLE.BIN)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			dir := copyBundle(t, s.dir)
			p := filepath.Join(dir, filepath.FromSlash(tt.name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			want := func(op string, err error) {
				t.Helper()
				if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), tt.name+": "+tt.what+", not part of the bundle: ") ||
					!strings.Contains(err.Error(), "a directory of its own on the volume") || strings.Contains(err.Error(), "\n") {
					t.Errorf("%s: %v, want it refused as malformed naming %s as %s and what to do", op, err, tt.name, tt.what)
				}
			}
			for op, err := range farSideErrors(t, dir, s.pub) {
				want(op, err)
			}
			_, err := mirror.VerifyChecksums(ctx, mirror.ChecksumsOptions{Dir: dir, Trust: trustKeys(s.pub)})
			if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), tt.name+" (not listed: "+tt.what+", not part of the bundle)") ||
				!strings.Contains(err.Error(), "a directory of its own on the volume") {
				t.Errorf("verify-checksums: %v, want it refused as malformed naming %s as %s and what to do", err, tt.name, tt.what)
			}
			_, err = mirror.Sign(ctx, mirror.SignOptions{Manifest: filepath.Join(dir, "manifest.json"), Key: s.priv, Password: testPass})
			want("sign", err)
			if _, err := os.Lstat(p); err != nil {
				t.Errorf("sign: %v", err)
			}
			// Packed with it by another tool: the archive's entry is named.
			plain := packDir(t, dir)
			for _, src := range []string{plain, testutil.ForeignArchive(t, plain, "bundle.tar.gz")} {
				_, err := mirror.Verify(ctx, mirror.VerifyOptions{Envelope: src, Trust: trustKeys(s.pub), Now: testNow})
				if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "archive entry \""+tt.name+"\": "+tt.what+", not part of the bundle: pack the bundle directory with stella mirror pack") {
					t.Errorf("verify of %s: %v, want it refused as malformed naming %s as %s", filepath.Base(src), err, tt.name, tt.what)
				}
			}
		})
	}
}
