package transfer_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/transfer"
)

// claimOther makes the registry answer the requests that match as it
// would, but with Docker-Content-Digest or Location naming another blob:
// what a registry that stored other content than it was sent says.
func claimOther(match func(*http.Request) bool, header string, other digest.Digest) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if match(r) {
				w = &claimWriter{ResponseWriter: w, r: r, header: header, other: other}
			}
			next.ServeHTTP(w, r)
		})
	}
}

type claimWriter struct {
	http.ResponseWriter
	r      *http.Request
	header string
	other  digest.Digest
}

func (c *claimWriter) WriteHeader(code int) {
	if code == http.StatusCreated {
		v := c.other.String()
		if c.header == "Location" {
			v = "/v2/" + strings.TrimPrefix(c.r.URL.Path, "/v2/")
			v = v[:strings.Index(v, "/blobs/")] + "/blobs/" + c.other.String()
		}
		c.Header().Set(c.header, v)
	}
	c.ResponseWriter.WriteHeader(code)
}

// TestUploaderRefusesAnotherDigest: an upload the registry completes (201)
// naming another digest than the one sent, in Docker-Content-Digest or in
// its Location, and a mount answered so, are a digest mismatch naming the
// registry and both digests: the registry does not hold what was sent
// under its digest, and nothing may be written that points to it.
func TestUploaderRefusesAnotherDigest(t *testing.T) {
	data := randomBytes(3<<20+11, 9)
	desc := blobDesc(data)
	other := digest.FromString("other content")
	complete := func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/")
	}
	mount := func(r *http.Request) bool {
		return r.Method == http.MethodPost && r.URL.Query().Get("mount") != ""
	}
	ctx := context.Background()
	for _, header := range []string{"Docker-Content-Digest", "Location"} {
		for _, op := range []string{"Push", "PushAt", "Mount"} {
			t.Run(header+"/"+op, func(t *testing.T) {
				match := complete
				if op == "Mount" {
					match = mount
				}
				reg := testutil.Distribution(t)
				proxied := testutil.ProxyWrapped(t, reg, claimOther(match, header, other))
				client := testutil.Client(t)
				if op == "Mount" {
					a, _ := client.UploadRepository(reg + "/stellaops/a")
					if err := (&transfer.Uploader{Repo: a}).Push(ctx, desc, bytes.NewReader(data)); err != nil {
						t.Fatal(err)
					}
				}
				repo, _ := client.UploadRepository(proxied + "/stellaops/b")
				u := &transfer.Uploader{Repo: repo, ChunkSize: 1 << 20, Backoff: time.Millisecond}
				var err error
				switch op {
				case "Push":
					err = u.Push(ctx, desc, bytes.NewReader(data))
				case "PushAt":
					err = u.PushAt(ctx, desc, bytes.NewReader(data))
				case "Mount":
					var mounted bool
					mounted, err = u.Mount(ctx, desc, "stellaops/a")
					if mounted {
						t.Error("mount reported done")
					}
				}
				if !errors.Is(err, errdef.ErrDigestMismatch) {
					t.Fatalf("err = %v, want ErrDigestMismatch", err)
				}
				for _, want := range []string{proxied, desc.Digest.String(), other.String()} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not name %s", err, want)
					}
				}
			})
		}
	}
}
