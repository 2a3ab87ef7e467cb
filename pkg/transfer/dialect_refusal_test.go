package transfer_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/transfer"
)

// A 404 or 400 to an upload's first PATCH may be a fault of the moment (a
// load balancer sending the session to a node that does not know it),
// not a registry that takes no chunks: a registry that answers so to
// exactly one PATCH keeps taking every blob in chunks, the upload that met
// it included, from a random-access source and from a stream over one
// chunk alike. One such answer used to mark the host as refusing chunks
// for the rest of the run: later blobs went as one PUT each, and a stream
// over one chunk failed.
func TestOnePatchRefusalKeepsUploadsChunked(t *testing.T) {
	transfer.SetAtChunkSize(t, 2<<20)
	reg := testutil.Distribution(t)
	for _, status := range []int{http.StatusNotFound, http.StatusBadRequest} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			host, counts := hostedDialect(t, reg, dialectOpts{refusePatch: status, refuseOnly: 1})
			client := testutil.Client(t)
			d := new(transfer.Dialect)
			for i, repo := range []string{"stellaops/hiccup-a", "stellaops/hiccup-b"} {
				up, err := client.UploadRepository(host + "/" + repo)
				if err != nil {
					t.Fatal(err)
				}
				u := &transfer.Uploader{Repo: up, Dialect: d, ChunkSize: 4 << 20, Backoff: time.Millisecond, Attempts: 2}
				for name, push := range map[string]func(data []byte) error{
					"PushAt": func(data []byte) error { return u.PushAt(t.Context(), blobDesc(data), bytes.NewReader(data)) },
					"Push":   func(data []byte) error { return u.Push(t.Context(), blobDesc(data), bytes.NewReader(data)) },
				} {
					data := randomBytes(9<<20+5, uint64(200+i*2+len(name)))
					before := counts.taken.Load()
					if err := push(data); err != nil {
						t.Fatalf("%s into %s: %v", name, repo, err)
					}
					if !holds(t, host, repo, blobDesc(data), data) {
						t.Fatalf("%s does not hold %s", repo, blobDesc(data).Digest)
					}
					if counts.taken.Load() == before {
						t.Errorf("%s into %s: sent in one PUT, no PATCH", name, repo)
					}
				}
			}
			if refused := counts.patches.Load() - counts.taken.Load(); refused != 1 {
				t.Errorf("%d PATCHes refused, want 1", refused)
			}
		})
	}
}

// A registry that refuses every PATCH takes each blob from a
// random-access source in one PUT, and a stream's only when it fits one
// chunk; a 405 or 501 says so at once (one PATCH refused), a 404 or 400
// once a PATCH in a fresh session was refused so too (two), and the host
// is known from then on: later blobs are sent with no PATCH. A 501 used
// to be retried as a fault and then failed the upload.
func TestPatchRefusalLearntWhenConfirmed(t *testing.T) {
	transfer.SetAtChunkSize(t, 2<<20)
	reg := testutil.Distribution(t)
	for _, tt := range []struct {
		status, wantRefused int
	}{
		{http.StatusMethodNotAllowed, 1},
		{http.StatusNotImplemented, 1},
		{http.StatusNotFound, 2},
		{http.StatusBadRequest, 2},
	} {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			host, counts := hostedDialect(t, reg, dialectOpts{refusePatch: tt.status})
			const repo = "stellaops/no-patch"
			up, err := testutil.Client(t).UploadRepository(host + "/" + repo)
			if err != nil {
				t.Fatal(err)
			}
			u := &transfer.Uploader{Repo: up, ChunkSize: 4 << 20, Backoff: time.Millisecond, Attempts: 3}
			for i, size := range []int{5<<20 + 3, 3<<20 + 1} {
				data := randomBytes(size, uint64(210+i))
				if err := u.PushAt(t.Context(), blobDesc(data), bytes.NewReader(data)); err != nil {
					t.Fatalf("PushAt of %d bytes: %v", size, err)
				}
				if !holds(t, host, repo, blobDesc(data), data) {
					t.Fatalf("registry does not hold %s", blobDesc(data).Digest)
				}
			}
			small := randomBytes(3<<20+3, 212)
			if err := u.Push(t.Context(), blobDesc(small), bytes.NewReader(small)); err != nil {
				t.Fatalf("Push of a stream within one chunk: %v", err)
			}
			// A stream over one chunk cannot go in one request: one line
			// says why, whether the refusal is known (u) or met on its
			// first PATCH (a new uploader, confirming a 404 or 400 too).
			big := randomBytes(9<<20+5, 213)
			for name, u := range map[string]*transfer.Uploader{
				"known": u,
				"first": {Repo: up, ChunkSize: 4 << 20, Backoff: time.Millisecond, Attempts: 3},
			} {
				err := u.Push(t.Context(), blobDesc(big), bytes.NewReader(big))
				want := "refuses chunked uploads"
				if name == "first" {
					want = fmt.Sprintf("refuses chunked uploads (PATCH answered %d)", tt.status)
				}
				if !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("%s: Push of a stream over one chunk: %v; want %q", name, err, want)
				}
			}
			if holds(t, host, repo, blobDesc(big), nil) {
				t.Fatalf("registry holds %s", blobDesc(big).Digest)
			}
			if n := counts.patches.Load(); n != 2*int64(tt.wantRefused) || counts.taken.Load() != 0 {
				t.Errorf("%d PATCHes refused, %d taken; want %d refused by each uploader", n, counts.taken.Load(), tt.wantRefused)
			}
		})
	}
}
