package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// tagPut reports whether r writes a manifest by tag (not by digest).
func tagPut(r *http.Request) bool {
	return manifestPut(r) && !strings.Contains(r.URL.Path, "/manifests/sha256:")
}

// TestTagReadBack: a registry that takes a tag but then names other
// content by it (it rewrote the manifest without saying so, answered with
// another digest, or lost or did not yet apply the write) fails the
// import with an error naming the tag: a digest mismatch naming both
// digests when the tag names other content than the signed, the registry
// at fault when it lost the write. Either way a later import's generation
// check, which reads the tags, would be misled.
func TestTagReadBack(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	version := s.rel.Spec.Version
	tests := []struct {
		name    string
		wrap    func(http.Handler) http.Handler
		wantErr error
	}{
		// A manifest rewritten on the way in (here: a trailing newline,
		// as a registry re-encoding JSON would), its new digest not said.
		{"rewritten silently", func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tagPut(r) {
					data, _ := io.ReadAll(r.Body)
					data = append(data, '\n')
					r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(data)), int64(len(data))
					w = &editWriter{ResponseWriter: w, edit: func(h http.Header) { h.Del("Docker-Content-Digest") }}
				}
				next.ServeHTTP(w, r)
			})
		}, errdef.ErrDigestMismatch},
		// A tag write taken (201, the right digest) but not applied.
		{"write lost", func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tagPut(r) && strings.Contains(r.URL.Path, bundle.DefaultBundleRepository) {
					data, _ := io.ReadAll(r.Body)
					w.Header().Set("Docker-Content-Digest", digest.FromBytes(data).String())
					w.WriteHeader(http.StatusCreated)
					return
				}
				next.ServeHTTP(w, r)
			})
		}, errdef.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := testutil.RegistryWrapped(t, tt.wrap)
			_, err := mirror.Import(context.Background(), importOpts(t, s.dir, host, s.pub))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), host+"/") || !strings.Contains(err.Error(), ":"+version) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q does not name the tag on one line", err)
			}
		})
	}
}

// editWriter lets edit change an answer's headers before they are sent.
type editWriter struct {
	http.ResponseWriter
	edit  func(http.Header)
	wrote bool
}

func (e *editWriter) WriteHeader(code int) {
	if !e.wrote {
		e.wrote = true
		e.edit(e.Header())
	}
	e.ResponseWriter.WriteHeader(code)
}

func (e *editWriter) Write(p []byte) (int, error) {
	if !e.wrote {
		e.WriteHeader(http.StatusOK)
	}
	return e.ResponseWriter.Write(p)
}

// TestTagServedLate: a registry that serves a tag a moment after taking
// its write (the first read of each tag answers 404) is asked again with
// the backoff, and the import completes.
func TestTagServedLate(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	host := lateRegistry(t, func(r *http.Request) bool {
		return r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/manifests/") && !strings.Contains(r.URL.Path, "/manifests/sha256")
	}, func(w http.ResponseWriter) { w.WriteHeader(http.StatusNotFound) })
	res, err := mirror.Import(context.Background(), importOpts(t, s.dir, host, s.pub))
	if err != nil {
		t.Fatal(err)
	}
	if res.Tags == 0 {
		t.Errorf("result %+v: no tag written", res)
	}
}

// TestManifestStoredUnderAnotherDigest: a registry that answers a manifest
// PUT by digest with another digest (it stored other bytes than those
// sent) fails the import as a digest mismatch (exit 2, as the same lie
// about a blob does), naming the manifest, with no tag written. oras-go
// reports it with a plain error, which used to exit 1.
func TestManifestStoredUnderAnotherDigest(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	other := digest.FromString("other bytes")
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if manifestPut(r) && !tagPut(r) {
				w = &editWriter{ResponseWriter: w, edit: func(h http.Header) { h.Set("Docker-Content-Digest", other.String()) }}
			}
			next.ServeHTTP(w, r)
		})
	})
	_, err := mirror.Import(context.Background(), importOpts(t, s.dir, host, s.pub))
	if !errors.Is(err, errdef.ErrDigestMismatch) || !strings.Contains(err.Error(), other.String()) || !strings.Contains(err.Error(), "push manifest sha256:") {
		t.Fatalf("err = %v, want a digest mismatch naming the manifest and %s", err, other)
	}
	for repo, tags := range testutil.Tags(t, host) {
		if len(tags) != 0 {
			t.Errorf("tags written in %s: %v", repo, tags)
		}
	}
}
