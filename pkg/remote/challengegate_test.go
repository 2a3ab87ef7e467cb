package remote_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/remote"
)

// A host's first request goes alone, so that the others carry the
// credentials its challenge asks for. Where that first request stalls (a
// connection a load balancer dropped without a word), the others waited
// for its answer: the whole run stood still through the idle timeout, two
// minutes an attempt. They now wait a little only, then go on their own.
func TestStalledFirstRequestHoldsNoOther(t *testing.T) {
	defer remote.SetGatePatience(50 * time.Millisecond)()
	arrived := make(chan struct{})
	release := make(chan struct{})
	var seen atomic.Int64
	host := testutil.ProxyWrapped(t, testutil.Registry(t), func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if seen.Add(1) == 1 {
				close(arrived)
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}
			next.ServeHTTP(w, r)
		})
	})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // before the proxy closes, which waits for its handlers
	client, err := remote.New(remote.Options{PlainHTTP: true, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := client.Repository(host + "/app/one")
	if err != nil {
		t.Fatal(err)
	}
	desc := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromString("not in the registry"), Size: 19}
	first := make(chan error, 1)
	go func() {
		_, err := repo.Blobs().Exists(context.Background(), desc)
		first <- err
	}()
	<-arrived

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ok, err := repo.Blobs().Exists(ctx, desc)
	if err != nil || ok {
		t.Fatalf("a request sent while the host's first one stalled: exists %v, %v (want false, <nil>: answered while the first was held)", ok, err)
	}
	free()
	if err := <-first; err != nil {
		t.Fatalf("the first request, released: %v", err)
	}
}
