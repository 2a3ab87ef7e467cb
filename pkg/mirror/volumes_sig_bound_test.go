//go:build unix

package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/dsse"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestVolumeListSignatureOverBoundRefused: FILE.volumes.dsse comes off the
// same media as the volumes, and no envelope is over dsse.MaxEnvelopeSize.
// verify-checksums LIST --key with a 3 GiB file there took 3 GiB of
// memory to say so; the operator now meets exit 11 naming the .dsse,
// having read a byte past the bound. A named pipe there is refused at
// once, not waited on.
func TestVolumeListSignatureOverBoundRefused(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "bundle.tar.zst")
	res, err := mirror.Pack(ctx, mirror.PackOptions{Dir: s.dir, Output: out, Split: 256 << 10, Key: s.priv, Password: testPass})
	if err != nil {
		t.Fatal(err)
	}
	sig := strings.TrimSuffix(res.VolumeList, ".json") + ".dsse"
	testutil.SparseFile(t, sig, 1<<30)
	alloc := testutil.Allocated(func() { _, err = mirror.VerifyVolumes(ctx, res.VolumeList, trustKeys(s.pub), 2) })
	if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), sig) || alloc > 256<<20 {
		t.Errorf("an envelope of 1 GiB: %v, %d MiB allocated; want it refused as malformed, naming %s, reading little past the bound", err, alloc>>20, sig)
	}
	os.Remove(sig)
	testutil.EndlessFile(t, sig, dsse.MaxEnvelopeSize+1)
	done := make(chan error, 1)
	go func() {
		_, err := mirror.VerifyVolumes(ctx, res.VolumeList, trustKeys(s.pub), 2)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), sig+": not a regular file") {
			t.Errorf("a named pipe: %v; want it refused as not a regular file, naming %s", err, sig)
		}
	case <-time.After(20 * time.Second): // a safety net: it waits on the pipe
		t.Fatalf("VerifyVolumes still reading the named pipe %s", sig)
	}
}
