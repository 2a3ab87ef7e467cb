package transfer_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/transfer"
)

// dialectOpts is how a hosted registry in front of a real one departs from
// what the uploader does by default.
type dialectOpts struct {
	chunkMin int64 // OCI-Chunk-Min-Length answered to the POST that opens an upload; PATCHes under it are refused
	limit    int64 // a proxy's body limit: larger requests get nginx's 413
	noPatch  bool  // PATCH is refused with 405 (a JSON error): one monolithic PUT only
	// refusePatch is the status PATCH is refused with instead (404 or 400
	// from a registry that routes no PATCH, or from a fault of the moment;
	// 501), with a plain-text body.
	refusePatch int
	// refuseOnly, with refusePatch, refuses only the first refuseOnly
	// PATCHes (0: every one).
	refuseOnly int64
	// loseSessionAt answers the PATCH of that number (from 1) 404 with
	// loseCode (BLOB_UPLOAD_UNKNOWN as distribution v3 says of a session
	// it no longer knows, BLOB_UPLOAD_INVALID as v2.8 does once it dropped
	// one), as a registry node that lost the session would.
	loseSessionAt int64
	loseCode      string
	// loseFirst answers the first loseFirst PATCHes so (0: none).
	loseFirst int64
}

// dialectCounts is what a dialect proxy saw.
type dialectCounts struct {
	patches atomic.Int64 // PATCH requests that reached the dialect's own checks
	short   atomic.Int64 // PATCHes under OCI-Chunk-Min-Length (refused with 416)
	taken   atomic.Int64 // PATCHes passed on to the registry
}

// hostedDialect is a thin handler in front of the registry at reg that
// speaks a hosted registry's dialect (opts), and counts what it saw.
func hostedDialect(t *testing.T, reg string, opts dialectOpts) (string, *dialectCounts) {
	c := new(dialectCounts)
	var lost sync.Map // upload session paths lost (loseSessionAt, loseFirst)
	host := testutil.ProxyWrapped(t, reg, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if opts.limit > 0 && r.ContentLength > opts.limit {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusRequestEntityTooLarge)
				w.Write([]byte("<html><head><title>413 Request Entity Too Large</title></head></html>\n"))
				return
			}
			upload := strings.Contains(r.URL.Path, "/blobs/uploads/")
			loseSession := func() {
				// Lost for good: its status, its cancel, any request
				// on it after, as from a node that no longer has it.
				lost.Store(r.URL.Path, true)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				fmt.Fprintf(w, `{"errors":[{"code":%q,"message":"blob upload unknown to registry"}]}`, opts.loseCode)
			}
			if _, gone := lost.Load(r.URL.Path); upload && gone {
				loseSession()
				return
			}
			if upload && r.Method == http.MethodPatch {
				n := c.patches.Add(1)
				if n == opts.loseSessionAt || n <= opts.loseFirst {
					loseSession()
					return
				}
				if opts.refusePatch != 0 && (opts.refuseOnly == 0 || n <= opts.refuseOnly) {
					http.Error(w, http.StatusText(opts.refusePatch), opts.refusePatch)
					return
				}
				if opts.noPatch {
					http.Error(w, `{"errors":[{"code":"UNSUPPORTED","message":"chunked uploads are not supported"}]}`, http.StatusMethodNotAllowed)
					return
				}
				// Every PATCH must carry at least the minimum: the
				// uploader sends its last chunk with the PUT.
				if opts.chunkMin > 0 && r.ContentLength < opts.chunkMin {
					c.short.Add(1)
					http.Error(w, `{"errors":[{"code":"BLOB_UPLOAD_INVALID","message":"chunk under OCI-Chunk-Min-Length"}]}`, http.StatusRequestedRangeNotSatisfiable)
					return
				}
				c.taken.Add(1)
			}
			if upload && r.Method == http.MethodPost && opts.chunkMin > 0 {
				w.Header().Set("OCI-Chunk-Min-Length", strconv.FormatInt(opts.chunkMin, 10))
			}
			next.ServeHTTP(w, r)
		})
	})
	return host, c
}

// pushers are the uploader's two ways in: from a stream and from a
// random-access source.
var pushers = map[string]func(t *testing.T, u *transfer.Uploader, desc ocispec.Descriptor, data []byte) error{
	"Push": func(t *testing.T, u *transfer.Uploader, desc ocispec.Descriptor, data []byte) error {
		return u.Push(t.Context(), desc, bytes.NewReader(data))
	},
	"PushAt": func(t *testing.T, u *transfer.Uploader, desc ocispec.Descriptor, data []byte) error {
		return u.PushAt(t.Context(), desc, bytes.NewReader(data))
	},
}

// holds reports whether the registry at host holds the blob desc in repo,
// with exactly data as its content when data is given.
func holds(t *testing.T, host, repo string, desc ocispec.Descriptor, data []byte) bool {
	t.Helper()
	r, err := testutil.Client(t).Repository(host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := r.Blobs().Exists(t.Context(), desc)
	if err != nil {
		t.Fatal(err)
	}
	if ok && data != nil {
		got, err := sampleRead(t.Context(), r, desc)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("registry holds %d other bytes for %s (%v)", len(got), desc.Digest, err)
		}
	}
	return ok
}

// A registry that answers OCI-Chunk-Min-Length to the POST opening an
// upload refuses any PATCH under it; behind a proxy limiting requests
// to 3.5 MiB, with a 3 MiB minimum, the uploader must shrink its requests
// after the 413s to no less than the minimum, and split a chunk so that
// no piece is short. It used to halve them to 2 MiB, which the registry
// refused, and the upload failed.
func TestUploadHonoursChunkMinLength(t *testing.T) {
	host, counts := hostedDialect(t, testutil.Distribution(t), dialectOpts{chunkMin: 3 << 20, limit: 3<<20 + 512<<10})
	for name, push := range pushers {
		t.Run(name, func(t *testing.T) {
			repo := "stellaops/min-" + strings.ToLower(name)
			up, err := testutil.Client(t).UploadRepository(host + "/" + repo)
			if err != nil {
				t.Fatal(err)
			}
			u := &transfer.Uploader{Repo: up, ChunkSize: 16 << 20, Backoff: time.Millisecond, Attempts: 2}
			for i, size := range []int{40<<20 + 7, 7<<20 + 1} {
				data := randomBytes(size, uint64(130+i))
				desc := blobDesc(data)
				if err := push(t, u, desc, data); err != nil {
					t.Fatalf("push %d bytes: %v", size, err)
				}
				if !holds(t, host, repo, desc, data) {
					t.Fatalf("registry does not hold %s", desc.Digest)
				}
			}
		})
	}
	if counts.short.Load() != 0 || counts.patches.Load() == 0 {
		t.Errorf("%d PATCHes, %d of them under OCI-Chunk-Min-Length", counts.patches.Load(), counts.short.Load())
	}
}

// When the registry's minimum chunk is larger than what a proxy in front
// of it lets through, no upload can meet both: it fails with one line
// naming the registry and both figures (exit 1), and nothing is stored.
// It used to fail on the registry's 416, unexplained.
func TestUploadChunkMinPastBodyLimitExplains(t *testing.T) {
	host, _ := hostedDialect(t, testutil.Distribution(t), dialectOpts{chunkMin: 3 << 20, limit: 2 << 20})
	for name, push := range pushers {
		t.Run(name, func(t *testing.T) {
			repo := "stellaops/min-limit-" + strings.ToLower(name)
			up, err := testutil.Client(t).UploadRepository(host + "/" + repo)
			if err != nil {
				t.Fatal(err)
			}
			data := randomBytes(8<<20+7, 140)
			desc := blobDesc(data)
			err = push(t, &transfer.Uploader{Repo: up, ChunkSize: 4 << 20, Backoff: time.Millisecond, Attempts: 2}, desc, data)
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			if !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(msg, host) || !strings.Contains(msg, "OCI-Chunk-Min-Length") ||
				!strings.Contains(msg, "3 MiB") || !strings.Contains(msg, "refused a request of") || strings.Contains(msg, "\n") {
				t.Fatalf("push past a 2 MiB body limit with a 3 MiB minimum chunk: %v", err)
			}
			if holds(t, host, repo, desc, nil) {
				t.Fatalf("registry holds %s", desc.Digest)
			}
		})
	}
}

// A registry's OCI-Chunk-Min-Length is its word alone: one absurdly large
// (2^62 bytes) makes no buffer of that size. From a random-access source
// the blob goes in one PUT, streamed (it used to be sent in chunks, every
// one refused); from a stream, a blob over one chunk fails with a line
// naming both figures, and one within it is sent whole.
func TestUploadHostileChunkMinLength(t *testing.T) {
	const huge = 1 << 62
	transfer.SetAtChunkSize(t, 2<<20)
	host, counts := hostedDialect(t, testutil.Distribution(t), dialectOpts{chunkMin: huge})
	up, err := testutil.Client(t).UploadRepository(host + "/stellaops/hostile-min")
	if err != nil {
		t.Fatal(err)
	}
	u := &transfer.Uploader{Repo: up, ChunkSize: 4 << 20, Backoff: time.Millisecond, Attempts: 2}
	data := randomBytes(9<<20+3, 150)
	desc := blobDesc(data)
	if err := u.PushAt(t.Context(), desc, bytes.NewReader(data)); err != nil {
		t.Fatalf("PushAt: %v", err)
	}
	if !holds(t, host, "stellaops/hostile-min", desc, data) {
		t.Fatalf("registry does not hold %s", desc.Digest)
	}
	small := randomBytes(3<<20+1, 151)
	if err := u.Push(t.Context(), blobDesc(small), bytes.NewReader(small)); err != nil {
		t.Fatalf("Push of a blob within one chunk: %v", err)
	}
	big := randomBytes(9<<20+5, 152)
	err = u.Push(t.Context(), blobDesc(big), bytes.NewReader(big))
	if !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(err.Error(), host) || !strings.Contains(err.Error(), "OCI-Chunk-Min-Length") ||
		!strings.Contains(err.Error(), "4398046511104 MiB") || !strings.Contains(err.Error(), "4 MiB") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Push of a stream over one chunk with a 2^62 minimum: %v", err)
	}
	if holds(t, host, "stellaops/hostile-min", blobDesc(big), nil) {
		t.Fatalf("registry holds %s", blobDesc(big).Digest)
	}
	if counts.patches.Load() != 0 {
		t.Errorf("%d PATCHes sent to a registry that wants chunks of 2^62 bytes", counts.patches.Load())
	}
}

// A registry that refuses PATCH (405) takes a blob only as one PUT
// ?digest= carrying all of it. From a random-access source the uploader
// falls back to that, streamed, its last byte still withheld until the
// content verified; later blobs go that way at once. From a stream, a blob
// within one chunk is sent whole, and a larger one fails with one line
// naming the registry. It used to fail every blob that needed a PATCH
// with the registry's bare 405.
func TestUploadToRegistryRefusingPatch(t *testing.T) {
	transfer.SetAtChunkSize(t, 2<<20)
	host, counts := hostedDialect(t, testutil.Distribution(t), dialectOpts{noPatch: true})
	const repo = "stellaops/monolithic"
	client := testutil.Client(t)
	up, err := client.UploadRepository(host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	u := &transfer.Uploader{Repo: up, ChunkSize: 4 << 20, Backoff: time.Millisecond, Attempts: 2}
	for i, size := range []int{9<<20 + 7, 5<<20 + 1} {
		data := randomBytes(size, uint64(160+i))
		desc := blobDesc(data)
		if err := u.PushAt(t.Context(), desc, bytes.NewReader(data)); err != nil {
			t.Fatalf("PushAt of %d bytes: %v", size, err)
		}
		if !holds(t, host, repo, desc, data) {
			t.Fatalf("registry does not hold %s", desc.Digest)
		}
	}
	if n := counts.patches.Load(); n != 1 {
		t.Errorf("%d PATCHes refused, want 1: the refusal is learnt once", n)
	}

	// Content that does not match its descriptor is never completed, in
	// one PUT too.
	data := randomBytes(6<<20, 170)
	bad := append([]byte(nil), data...)
	bad[len(bad)-1] ^= 1
	err = u.PushAt(t.Context(), blobDesc(data), bytes.NewReader(bad))
	if !errors.Is(err, errdef.ErrDigestMismatch) {
		t.Fatalf("PushAt of content that does not match: %v", err)
	}
	if holds(t, host, repo, blobDesc(data), nil) || holds(t, host, repo, blobDesc(bad), nil) {
		t.Fatal("registry completed a blob from content that does not match its descriptor")
	}

	small := randomBytes(3<<20+3, 171)
	if err := u.Push(t.Context(), blobDesc(small), bytes.NewReader(small)); err != nil {
		t.Fatalf("Push of a stream within one chunk: %v", err)
	}
	if !holds(t, host, repo, blobDesc(small), small) {
		t.Fatalf("registry does not hold %s", blobDesc(small).Digest)
	}

	// A stream larger than one chunk cannot go in one request without
	// holding all of it: one line says why, whether the refusal is
	// already known (u) or met on the first PATCH (a new uploader).
	fresh, err := client.UploadRepository(host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	for name, u := range map[string]*transfer.Uploader{
		"known": u,
		"first": {Repo: fresh, ChunkSize: 4 << 20, Backoff: time.Millisecond, Attempts: 2},
	} {
		big := randomBytes(9<<20+5, 172)
		err := u.Push(t.Context(), blobDesc(big), bytes.NewReader(big))
		if !errors.Is(err, errdef.ErrUnavailable) || !strings.Contains(err.Error(), host) || !strings.Contains(err.Error(), "refuses chunked uploads") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("%s: Push of a stream over one chunk: %v", name, err)
		}
		if holds(t, host, repo, blobDesc(big), nil) {
			t.Fatalf("%s: registry holds %s", name, blobDesc(big).Digest)
		}
	}
	if n := counts.patches.Load(); n != 2 {
		t.Errorf("%d PATCHes refused, want 2: one by each uploader", n)
	}
}

// The Uploaders of one registry's repositories that share a Dialect learn
// its refusal of PATCH once: the second repository's blob goes in one PUT
// at once.
func TestDialectSharedAcrossRepositories(t *testing.T) {
	transfer.SetAtChunkSize(t, 2<<20)
	host, counts := hostedDialect(t, testutil.Distribution(t), dialectOpts{noPatch: true})
	client := testutil.Client(t)
	d := new(transfer.Dialect)
	for i, repo := range []string{"stellaops/shared-a", "stellaops/shared-b"} {
		up, err := client.UploadRepository(host + "/" + repo)
		if err != nil {
			t.Fatal(err)
		}
		data := randomBytes(5<<20+3, uint64(180+i))
		if err := (&transfer.Uploader{Repo: up, Dialect: d, Backoff: time.Millisecond, Attempts: 2}).PushAt(t.Context(), blobDesc(data), bytes.NewReader(data)); err != nil {
			t.Fatalf("PushAt into %s: %v", repo, err)
		}
		if !holds(t, host, repo, blobDesc(data), data) {
			t.Fatalf("%s does not hold %s", repo, blobDesc(data).Digest)
		}
	}
	if n := counts.patches.Load(); n != 1 {
		t.Errorf("%d PATCHes refused, want 1", n)
	}
}
