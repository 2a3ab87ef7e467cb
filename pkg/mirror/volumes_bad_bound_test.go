package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestVerifyVolumesBoundsBadVolumes: verify-checksums of a volume list
// held an error for every bad volume and named every one in its message,
// so a list of 27,000 volumes none of which is there (as a hostile list
// within its 4 MiB may name) took 235 MiB and wrote an error line of 57
// MB. As for a bundle directory's bad files, the first 50 volumes are
// named and the rest counted (found by review).
func TestVerifyVolumesBoundsBadVolumes(t *testing.T) {
	const n = 2000
	vs := layout.VolumeSet{SchemaVersion: bundle.VolumeListVersion, Archive: "b.tar", VolumeSize: 1, Size: n}
	for i := range n {
		vs.Volumes = append(vs.Volumes, layout.Volume{Name: layout.VolumeName("b.tar", i), Size: 1, Digest: digest.FromString(fmt.Sprint(i))})
	}
	data, err := vs.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(t.TempDir(), "b.tar"+layout.VolumesSuffix)
	if err := os.WriteFile(list, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = mirror.VerifyVolumes(context.Background(), list, mirror.TrustOptions{}, 4)
	if !errors.Is(err, errdef.ErrNotFound) {
		t.Fatalf("err = %.300v, want not found", err)
	}
	msg := err.Error()
	if named := strings.Count(msg, "is missing from"); named != 50 || !strings.Contains(msg, fmt.Sprintf("%d of %d volumes bad", n, n)) ||
		!strings.Contains(msg, fmt.Sprintf("and %d more", n-50)) || !strings.Contains(msg, "volume b.tar.000 is missing") || strings.Contains(msg, "volume b.tar.050 ") {
		t.Errorf("err names %d volumes (%d bytes): %.400s…; want the first 50 named, %d of %d bad and %d more", named, len(msg), msg, n, n, n-50)
	}
}
