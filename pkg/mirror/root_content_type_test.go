package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// contentTypeWriter answers with contentType whatever Content-Type the
// handler set.
type contentTypeWriter struct {
	http.ResponseWriter
	contentType string
}

func (w contentTypeWriter) WriteHeader(code int) {
	w.Header().Set("Content-Type", w.contentType)
	w.ResponseWriter.WriteHeader(code)
}

// TestBundleRootOfAnotherContentType: a source registry that answers the
// bundle root, asked for by its tag, with a Content-Type other than the
// image index it is (a proxy in front of it, a registry that converts
// manifests) is refused by pull and sync as malformed (exit 11), as a
// manifest asked for by its digest and so answered is, saying which
// Content-Type came for which root; nothing is written. Both said
// "index.json: root sha256:… is not an image index", of an index.json
// the operator never gave, of a root that is one.
func TestBundleRootOfAnotherContentType(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	for _, contentType := range []string{"application/octet-stream", "application/json", ocispec.MediaTypeImageManifest} {
		t.Run(contentType, func(t *testing.T) {
			source := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/manifests/"+s.rel.Spec.Version) {
						w = contentTypeWriter{w, contentType}
					}
					next.ServeHTTP(w, r)
				})
			})
			ref := source + "/stellaops/mirror-bundle:" + s.rel.Spec.Version
			pushSampleTo(t, s, ref)
			ctx := context.Background()
			client := testutil.Client(t)
			want := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "Content-Type \""+contentType+"\"") ||
					strings.Contains(err.Error(), "index.json") || strings.Contains(err.Error(), "is not an image index") {
					t.Errorf("%s: err = %v, want malformed naming the Content-Type %s", what, err, contentType)
				}
			}
			out := filepath.Join(t.TempDir(), "pulled")
			_, err := mirror.Pull(ctx, mirror.PullOptions{Reference: ref, Output: out, Trust: trustKeys(s.pub), Client: client, Transfer: transferOpts()})
			want("pull", err)
			if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
				t.Errorf("pull left %v", entries)
			}
			dst := testutil.Registry(t)
			_, err = mirror.Sync(ctx, mirror.SyncOptions{Now: testNow, Source: ref, Destination: dst + "/stellaops/mirror-bundle", Trust: trustKeys(s.pub), Client: client, Transfer: transferOpts()})
			want("sync", err)
			if tags := testutil.Tags(t, dst); len(tags) != 0 {
				t.Errorf("sync tagged %v", tags)
			}
		})
	}
}
