//go:build linux

package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestSplitVolumesNotReadAgainForTheRegistrysFault: an import of a plain
// tar's split set that the target registry fails as malformed (its tag
// list of the bundle repository answered with JSON that is no tag list)
// hashed every volume again to name one at fault (334491c), though none
// was: a full extra read of the set, tens of gigabytes on a real one,
// before the registry's error was told. The volumes are now read again
// only for an error of the content read from them (found by review).
func TestSplitVolumesNotReadAgainForTheRegistrysFault(t *testing.T) {
	s := newSignedSample(t, sample.Spec{Layers: 8, LayerSize: 1 << 20}, 0)
	res, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: s.dir, Output: filepath.Join(t.TempDir(), "bundle.tar"), Split: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, v := range res.Volumes {
		total += v.Size
	}
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/mirror-bundle/tags/list") {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`{}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	before := bytesRead(t)
	_, err = mirror.Import(context.Background(), importOpts(t, res.VolumeList, host, s.pub))
	read := bytesRead(t) - before
	if !errors.Is(err, errdef.ErrMalformed) || strings.Contains(err.Error(), "volume") {
		t.Fatalf("import: %v; want the registry's tag list refused as malformed, no volume named", err)
	}
	if read >= total {
		t.Errorf("a failed import read %d bytes, the %d bytes of volumes of its set (%d) and more: the volumes were read again for the registry's fault", read, total, len(res.Volumes))
	}
}

// bytesRead is what the process has read so far (/proc/self/io rchar).
func bytesRead(t *testing.T) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skip(err)
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("rchar: ")); ok {
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skip("no rchar in /proc/self/io")
	return 0
}
