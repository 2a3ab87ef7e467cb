package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// FuzzOpenArchive reads any bytes as a bundle archive, as inspect (and so
// import, serve and verify, which open archives the same way) does: the
// head, the out-of-order scan, manifest.json, the root and the structure.
// Whatever it meets must end in an error saying the archive is malformed
// or does not match its descriptors, never in a panic or a hang. The seeds
// are a real signed bundle, packed plain, with gzip and with zstd (seekable). (An archive without
// index.json used to panic here.)
func FuzzOpenArchive(f *testing.F) {
	s := newSignedSample(f, sample.Spec{BaseLayerSize: 2048, LayerSize: 512}, 0)
	for _, suffix := range []string{".tar", ".tar.gz", ".tar.zst"} {
		data, err := os.ReadFile(s.pack(f, suffix))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	// One file per fuzzing process, rewritten for each input.
	path := filepath.Join(f.TempDir(), "fuzz.tar")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := mirror.Inspect(context.Background(), path, time.Now())
		if err != nil && !errors.Is(err, errdef.ErrMalformed) && !errors.Is(err, errdef.ErrDigestMismatch) {
			t.Fatalf("error %v is neither ErrMalformed nor ErrDigestMismatch", err)
		}
	})
}
