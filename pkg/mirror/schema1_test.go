package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// A Docker schema 1 manifest (deprecated, signed with JWS, registries
// stopped serving it by default in 2024) cannot be carried byte for byte
// as OCI content: create must refuse it before writing, naming the image
// and what to do, rather than fail deep in the walk.
//
// Some registries negotiate: they answer 404 where they hold no type the
// Accept header names. create asks for schema 1 too, so that such a
// registry shows the image rather than "not found".
func TestCreateRefusesDockerSchema1(t *testing.T) {
	t.Run("plain", func(t *testing.T) { refusesSchema1(t, testutil.Registry(t)) })
	t.Run("negotiating", func(t *testing.T) {
		refusesSchema1(t, testutil.RegistryWrapped(t, func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") && !strings.Contains(r.Header.Get("Accept"), "prettyjws") {
					http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`, http.StatusNotFound)
					return
				}
				h.ServeHTTP(w, r)
			})
		}))
	})
}

func refusesSchema1(t *testing.T, src string) {
	r := rawRepo{t, src, "legacy/app"}
	const schema1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"
	data := []byte(`{"schemaVersion":1,"name":"legacy/app","tag":"latest","architecture":"amd64","fsLayers":[],"history":[],"signatures":[]}`)
	img := ocispec.Descriptor{MediaType: schema1, Digest: digest.FromBytes(data), Size: int64(len(data))}
	req, _ := http.NewRequest(http.MethodPut, "http://"+src+"/v2/"+r.name+"/manifests/"+img.Digest.String(), bytes.NewReader(data))
	req.Header.Set("Content-Type", schema1)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("put the schema 1 manifest: %v %v", err, resp)
	}
	resp.Body.Close()
	out := filepath.Join(t.TempDir(), "bundle")
	opts := createOpts(t, releaseOf(t, src, map[string]digest.Digest{r.name: img.Digest}), "", out)
	opts.Version = "2025.10.0"
	_, err = mirror.Create(context.Background(), opts)
	if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), img.Digest.String()) || !strings.Contains(err.Error(), "Docker schema 1") {
		t.Fatalf("create: err = %v, want a refusal naming %s as Docker schema 1", err, img.Digest)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("create left %s behind (%v)", out, err)
	}
}
