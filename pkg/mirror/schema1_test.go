package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
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

// A registry that negotiates a tag's manifest by the weights the Accept
// header gives, and where weights tie by its own order of preference
// (schema 1 first, as a registry converting for old clients might), serves
// an image held as OCI in that form, never as a schema 1 conversion: create
// asks for schema 1 (to name such an image) weighted below schema 2 and
// OCI. Asked for it at the same weight, create was served the conversion
// and refused an OCI image as Docker schema 1.
func TestCreateIsNotServedASchema1Conversion(t *testing.T) {
	src := testutil.RegistryWrapped(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, ref, ok := strings.Cut(r.URL.Path, "/manifests/")
			if !ok || strings.Contains(ref, ":") || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
				h.ServeHTTP(w, r)
				return
			}
			// By tag: what is held, and the form the Accept header prefers.
			held := httptest.NewRecorder()
			get := r.Clone(r.Context())
			get.Method = http.MethodGet
			h.ServeHTTP(held, get)
			stored := held.Header().Get("Content-Type")
			if held.Code != http.StatusOK || !strings.Contains(negotiate(r.Header.Values("Accept"), stored), "prettyjws") {
				for k, v := range held.Header() {
					w.Header()[k] = v
				}
				w.WriteHeader(held.Code)
				if r.Method == http.MethodGet {
					w.Write(held.Body.Bytes())
				}
				return
			}
			conv := []byte(`{"schemaVersion":1,"name":"converted","tag":"` + ref + `","architecture":"amd64","fsLayers":[],"history":[],"signatures":[]}`)
			w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v1+prettyjws")
			w.Header().Set("Docker-Content-Digest", digest.FromBytes(conv).String())
			w.Header().Set("Content-Length", strconv.Itoa(len(conv)))
			if r.Method == http.MethodGet {
				w.Write(conv)
			}
		})
	})
	r := rawRepo{t, src, "converting/app"}
	img := r.image("oci", "", nil)
	repo, err := testutil.Client(t).Repository(src + "/" + r.name)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Tag(context.Background(), img, "1.0"); err != nil {
		t.Fatal(err)
	}
	rel := filepath.Join(t.TempDir(), "release.txt")
	if err := os.WriteFile(rel, []byte(src+"/"+r.name+":1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := createOpts(t, rel, "", filepath.Join(t.TempDir(), "bundle"))
	opts.Version, opts.AllowTags = "2025.10.0", true
	res, err := mirror.Create(context.Background(), opts)
	if err != nil {
		t.Fatalf("create of an OCI image from a registry that converts where schema 1 is preferred: %v", err)
	}
	if got := res.Manifest.Images[0].Digest; got != img.Digest {
		t.Fatalf("create recorded %s, want the OCI image's %s", got, img.Digest)
	}
}

// negotiate picks, of a registry offering schema 1 before the type it
// holds, the one the Accept values weigh highest (q, 1 if not given); a
// tie goes to the registry's order.
func negotiate(accept []string, held string) string {
	weight := map[string]float64{}
	for _, v := range accept {
		for _, part := range strings.Split(v, ",") {
			mt, params, err := mime.ParseMediaType(part)
			if err != nil {
				continue
			}
			q := 1.0
			if s, ok := params["q"]; ok {
				if q, err = strconv.ParseFloat(s, 64); err != nil {
					continue
				}
			}
			weight[mt] = q
		}
	}
	best, bestQ := "", 0.0
	for _, offer := range []string{"application/vnd.docker.distribution.manifest.v1+prettyjws", held} {
		if q := weight[offer]; q > bestQ {
			best, bestQ = offer, q
		}
	}
	return best
}
