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
// memory to say so; the operator now meets exit 11 naming the .dsse at
// once. The .dsse here gives a byte more than the bound and never ends: a
// reader that reads it whole first is still waiting when the test gives up.
func TestVolumeListSignatureOverBoundRefused(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "bundle.tar.zst")
	res, err := mirror.Pack(ctx, mirror.PackOptions{Dir: s.dir, Output: out, Split: 256 << 10, Key: s.priv, Password: testPass})
	if err != nil {
		t.Fatal(err)
	}
	sig := strings.TrimSuffix(res.VolumeList, ".json") + ".dsse"
	if err := os.Remove(sig); err != nil {
		t.Fatal(err)
	}
	testutil.EndlessFile(t, sig, dsse.MaxEnvelopeSize+1)
	done := make(chan error, 1)
	go func() {
		_, err := mirror.VerifyVolumes(ctx, res.VolumeList, trustKeys(s.pub), 2)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), sig) {
			t.Errorf("an envelope over the bound: %v; want it refused as malformed, naming %s", err, sig)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("VerifyVolumes still reading %s past the %d bytes an envelope may have", sig, dsse.MaxEnvelopeSize)
	}
}
