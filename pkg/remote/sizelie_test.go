package remote_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	oremote "oras.land/oras-go/v2/registry/remote"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/remote"
)

// TestContentLengthNotTheDescriptorsSize: a registry answers a blob or a
// manifest with a Content-Length other than the size its descriptor gives
// (a manifest that lies about a layer's size, a registry serving other
// bytes): a digest mismatch (exit 2), as the same answer without a
// Content-Length is once its bytes are counted. oras-go's error of no type
// for it ("mismatch Content-Length") passed for a registry unreachable
// (exit 1).
func TestContentLengthNotTheDescriptorsSize(t *testing.T) {
	body := []byte(`{"schemaVersion":2}`)
	dg := digest.FromBytes(body)
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ocispec.MediaTypeImageManifest)
		w.Write(body)
	}))
	t.Cleanup(reg.Close)
	repo := repoAt(t, reg)
	for _, size := range []int64{int64(len(body)) + 1, int64(len(body)) - 1, 1 << 62} {
		for name, fetch := range map[string]func(ocispec.Descriptor) error{
			"blob": func(d ocispec.Descriptor) error {
				_, err := repo.Blobs().Fetch(t.Context(), d)
				return err
			},
			"manifest": func(d ocispec.Descriptor) error {
				_, err := repo.Manifests().Fetch(t.Context(), d)
				return err
			},
		} {
			err := fetch(ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: dg, Size: size})
			if err = remote.Classify(err); !errors.Is(err, errdef.ErrDigestMismatch) || !strings.Contains(err.Error(), dg.Encoded()) {
				t.Errorf("%s of size %d: err = %v, want a digest mismatch naming it", name, size, err)
			}
		}
	}
}

// TestContentTypeNotTheDescriptorsMediaType: a registry answers a manifest
// by digest as another media type than its descriptor names (text/html
// from a login page, a Docker type for an OCI index): malformed (exit 11),
// as create's own check of the same answer says, not a registry
// unavailable (exit 1), which trying again would not mend. oras-go's
// error of no type for it ("mismatch response Content-Type") passed for
// the latter in pull, sync and import.
func TestContentTypeNotTheDescriptorsMediaType(t *testing.T) {
	body := []byte(`{"schemaVersion":2}`)
	dg := digest.FromBytes(body)
	for _, ct := range []string{"text/html", "application/vnd.docker.distribution.manifest.list.v2+json"} {
		reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ct)
			w.Write(body)
		}))
		t.Cleanup(reg.Close)
		repo := repoAt(t, reg)
		_, err := repo.Manifests().Fetch(t.Context(), ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: dg, Size: int64(len(body))})
		if err = remote.Classify(err); !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), dg.Encoded()) || !strings.Contains(err.Error(), ct) {
			t.Errorf("answered as %s: err = %v, want malformed naming the digest and the type", ct, err)
		}
	}
}

// repoAt is repository stellaops/x of the registry reg, over plain HTTP,
// asked once (no retries), with no credentials.
func repoAt(t *testing.T, reg *httptest.Server) *oremote.Repository {
	t.Helper()
	c, err := remote.New(remote.Options{PlainHTTP: true, Retries: -1, ConfigFile: t.TempDir() + "/config.json"})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := c.Repository(strings.TrimPrefix(reg.URL, "http://") + "/stellaops/x")
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// TestServedOtherDigestNamedOnce: a manifest fetched by digest whose answer
// carries another Docker-Content-Digest (other content) is a digest
// mismatch naming the digest asked for once and the one served, where no
// caller named the first (TestSyncManifestAlteredNamesItOnce has one that
// does); oras-go's words named it twice, in the URL and as the digest
// expected.
func TestServedOtherDigestNamedOnce(t *testing.T) {
	body := []byte(`{"schemaVersion":2}`)
	dg, other := digest.FromBytes(body), digest.FromString("other")
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ocispec.MediaTypeImageManifest)
		w.Header().Set("Docker-Content-Digest", other.String())
		w.Write(body)
	}))
	t.Cleanup(reg.Close)
	_, err := repoAt(t, reg).Manifests().Fetch(t.Context(), ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: dg, Size: int64(len(body))})
	err = remote.Classify(err)
	if !errors.Is(err, errdef.ErrDigestMismatch) || strings.Count(err.Error(), dg.String()) != 1 || strings.Count(err.Error(), other.String()) != 1 {
		t.Errorf("err = %v, want a digest mismatch naming %s and %s once each", err, dg, other)
	}
}
