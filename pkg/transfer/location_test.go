package transfer_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/transfer"
)

// locationRewriter hands the registry's answers on with their Location
// passed through rewrite.
type locationRewriter struct {
	http.ResponseWriter
	rewrite func(string) string
}

func (w locationRewriter) WriteHeader(code int) {
	if loc := w.Header().Get("Location"); loc != "" {
		w.Header().Set("Location", w.rewrite(loc))
	}
	w.ResponseWriter.WriteHeader(code)
}

// The upload Location a registry answers with comes in every form the
// distribution spec allows: a path, an absolute URL, one on another host
// name (a registry whose configured host name is not the one the client
// used, a front that sends uploads to another node) and one carrying query
// parameters of its own (distribution's _state, a signature). Each is
// followed, and the blob completed, from a stream and a random-access
// source. One on another host was refused, failing the run.
func TestUploadFollowsEveryLocationForm(t *testing.T) {
	reg := testutil.Distribution(t)
	for name, rewrite := range map[string]func(host, loc string) string{
		"relative": func(host, loc string) string { return strings.TrimPrefix(loc, "http://"+host) },
		"another host": func(host, loc string) string {
			return strings.Replace(loc, "http://127.0.0.1:", "http://localhost:", 1)
		},
		"extra query": func(host, loc string) string {
			sep := "?"
			if strings.Contains(loc, "?") {
				sep = "&"
			}
			return loc + sep + "X-Signature=abc%2Fdef%3D&expires=1700000000"
		},
	} {
		t.Run(name, func(t *testing.T) {
			var host string
			host = testutil.ProxyWrapped(t, reg, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					next.ServeHTTP(locationRewriter{w, func(loc string) string { return rewrite(host, loc) }}, r)
				})
			})
			client := testutil.Client(t)
			repo, err := client.UploadRepository(host + "/stellaops/location")
			if err != nil {
				t.Fatal(err)
			}
			u := &transfer.Uploader{Repo: repo, ChunkSize: 1 << 20, Backoff: time.Millisecond, Attempts: 2}
			streamed, at := randomBytes(2<<20+3, 111), randomBytes(1<<20+5, 112)
			if err := u.Push(t.Context(), blobDesc(streamed), bytes.NewReader(streamed)); err != nil {
				t.Fatalf("Push: %v", err)
			}
			if err := u.PushAt(t.Context(), blobDesc(at), bytes.NewReader(at)); err != nil {
				t.Fatalf("PushAt: %v", err)
			}
			r, _ := client.Repository(reg + "/stellaops/location")
			for _, data := range [][]byte{streamed, at} {
				if got, err := sampleRead(t.Context(), r, blobDesc(data)); err != nil || !bytes.Equal(got, data) {
					t.Fatalf("registry holds %d other bytes (%v)", len(got), err)
				}
			}
		})
	}
}

// dialectWriter answers a PATCH as some registries do: 201 instead of 202,
// Range as "bytes=0-N", no Docker-Upload-UUID.
type dialectWriter struct {
	http.ResponseWriter
	patch bool
}

func (w dialectWriter) WriteHeader(code int) {
	if w.patch && code == http.StatusAccepted {
		code = http.StatusCreated
	}
	if rng := w.Header().Get("Range"); rng != "" && !strings.HasPrefix(rng, "bytes=") {
		w.Header().Set("Range", "bytes="+rng)
	}
	w.Header().Del("Docker-Upload-UUID")
	w.ResponseWriter.WriteHeader(code)
}

// A registry that answers a chunk's PATCH with 201 (the spec says 202),
// writes Range as "bytes=0-N" and sends no Docker-Upload-UUID still takes
// a blob in chunks: the chunk is in, its Location is the session's.
func TestUploadToleratesPatchDialects(t *testing.T) {
	reg := testutil.Distribution(t)
	host := testutil.ProxyWrapped(t, reg, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(dialectWriter{w, r.Method == http.MethodPatch}, r)
		})
	})
	client := testutil.Client(t)
	repo, err := client.UploadRepository(host + "/stellaops/dialect")
	if err != nil {
		t.Fatal(err)
	}
	u := &transfer.Uploader{Repo: repo, ChunkSize: 1 << 20, Backoff: time.Millisecond, Attempts: 2}
	data := randomBytes(3<<20+3, 113)
	if err := u.Push(t.Context(), blobDesc(data), bytes.NewReader(data)); err != nil {
		t.Fatalf("Push: %v", err)
	}
	r, _ := client.Repository(reg + "/stellaops/dialect")
	if got, err := sampleRead(t.Context(), r, blobDesc(data)); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("registry holds %d other bytes (%v)", len(got), err)
	}
}
