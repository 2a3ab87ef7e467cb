package transfer_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/transfer"
)

// endSignal is a stream reader that closes ended when Push says it has
// read (and verified) the stream to its end.
type endSignal struct {
	*bytes.Reader
	ended chan error
}

func (e *endSignal) StreamEnded(err error) { e.ended <- err }

// A stream's blob that fits the pool is read (and verified) while its
// upload session is being opened, not after: the archive it comes from
// moves on to its next blob without waiting for the POST's round trip.
// Here the registry holds the POST until the stream was told of its end;
// the blob then goes up byte for byte. On the old code the content was read
// only once the POST was answered: the POST waited for the end, the end
// for the POST, until the test gave up.
func TestStreamReadWhileSessionOpens(t *testing.T) {
	data := randomBytes(300<<10, 7)
	desc := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(data), Size: int64(len(data))}
	r := &endSignal{Reader: bytes.NewReader(data), ended: make(chan error, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	told := make(chan struct{})
	reg := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Method == http.MethodPost {
				select {
				case <-told:
				case <-ctx.Done():
					http.Error(w, "held", http.StatusServiceUnavailable)
					return
				}
			}
			next.ServeHTTP(w, req)
		})
	})
	client := testutil.Client(t)
	up, err := client.UploadRepository(reg + "/stellaops/stream")
	if err != nil {
		t.Fatal(err)
	}
	u := &transfer.Uploader{Repo: up, Pool: transfer.NewChunkPool(2, 1<<20), Backoff: time.Millisecond, Attempts: 1}
	done := make(chan error, 1)
	go func() { done <- u.Push(ctx, desc, r) }()
	select {
	case err := <-r.ended:
		if err != nil {
			t.Fatalf("stream ended with %v", err)
		}
		close(told)
	case <-ctx.Done():
		t.Fatal("the stream was not read to its end while the upload session was being opened")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	direct, _ := client.Repository(reg + "/stellaops/stream")
	if got, err := sampleRead(ctx, direct, desc); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("registry holds %d different bytes for %s (%v)", len(got), desc.Digest, err)
	}
}
