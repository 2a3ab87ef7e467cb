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

// TestMissingHeadFileIsMalformed: a bundle directory that lacks
// manifest.json or index.json is a malformed bundle (exit 11), for verify
// and serve as import and inspect already said; they reported it as input
// not found (exit 1), whose advice is to check the path given.
func TestMissingHeadFileIsMalformed(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	ctx := context.Background()
	for _, name := range []string{"manifest.json", "index.json"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "bundle")
			if err := os.CopyFS(dir, os.DirFS(s.dir)); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
			_, err := mirror.Verify(ctx, mirror.VerifyOptions{Now: fixedTime.Add(time.Hour), Envelope: dir, Trust: trustKeys(s.pub)})
			if !errors.Is(err, errdef.ErrMalformed) {
				t.Errorf("verify: %v, want ErrMalformed", err)
			}
			_, err = mirror.OpenServed(ctx, mirror.ServeOptions{Path: dir, Trust: trustKeys(s.pub), Now: fixedTime.Add(time.Hour)})
			if !errors.Is(err, errdef.ErrMalformed) {
				t.Errorf("serve: %v, want ErrMalformed", err)
			}
		})
	}
}
