package mirror_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestSplitVolumeChangedBeforeARetryNamed: a blob of a plain tar's split
// set whose bytes, read again for a retry (the registry failed the
// request that carried them), differ from those first sent (a volume
// replaced or rewritten during the import) failed naming no volume,
// "bytes 0 to N read again for a retry differ from those first sent",
// since 33a5b26 reads the volumes again only for an error marked as the
// source content's; before it, the volume at fault was named (found by
// review).
func TestSplitVolumeChangedBeforeARetryNamed(t *testing.T) {
	s := newSignedSample(t, sample.Spec{Layers: 1, LayerSize: 2 << 20}, 0)
	res, err := mirror.Pack(context.Background(), mirror.PackOptions{Dir: s.dir, Output: filepath.Join(t.TempDir(), "bundle.tar"), Split: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(res.VolumeList)
	var once sync.Once
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if (r.Method == http.MethodPatch || r.Method == http.MethodPut) && strings.Contains(r.URL.Path, "/blobs/uploads/") && r.ContentLength > 1<<20 {
				failed := false
				once.Do(func() {
					io.Copy(io.Discard, r.Body) // the bytes are read, and hashed, once
					for _, v := range res.Volumes {
						path := filepath.Join(dir, v.Name)
						data, err := os.ReadFile(path)
						if err != nil {
							t.Error(err)
							return
						}
						for i := range data {
							data[i] ^= 0xff
						}
						if err := os.WriteFile(path, data, 0o644); err != nil {
							t.Error(err)
						}
					}
					failed = true
				})
				if failed {
					w.WriteHeader(http.StatusInternalServerError)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	})
	opts := importOpts(t, res.VolumeList, host, s.pub)
	opts.Transfer.Concurrency = 1
	_, err = mirror.Import(context.Background(), opts)
	if !errors.Is(err, errdef.ErrDigestMismatch) || !strings.Contains(err.Error(), "volume") {
		t.Fatalf("import: %v; want the volume changed during the import named", err)
	}
}
