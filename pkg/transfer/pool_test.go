package transfer_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/transfer"
)

// endRecorder is a stream reader that records what Push says of its end.
type endRecorder struct {
	*bytes.Reader
	mu    sync.Mutex
	calls int
	err   error
}

func (e *endRecorder) StreamEnded(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls++
	e.err = err
}

// TestSharedPoolUploads pushes several blobs at once through a faulty
// registry with fewer shared chunk buffers than blobs: every upload
// completes byte for byte, each stream is told once of its end (with the
// mismatch for bad content), and every buffer is back in the pool.
func TestSharedPoolUploads(t *testing.T) {
	reg := testutil.Distribution(t)
	proxy := testutil.NewFaultProxy(t, reg,
		testutil.FaultNone, testutil.Fault503, testutil.FaultNone, testutil.FaultReset, testutil.FaultNone,
		testutil.FaultNone, testutil.FaultTruncate, testutil.FaultNone, testutil.FaultNone, testutil.FaultNone)
	client := testutil.Client(t)
	up, err := client.UploadRepository(proxy.Host + "/stellaops/pool")
	if err != nil {
		t.Fatal(err)
	}
	pool := transfer.NewChunkPool(3, 1<<20)
	u := &transfer.Uploader{Repo: up, Pool: pool, Backoff: time.Millisecond, Attempts: 8}
	ctx := context.Background()

	const blobs = 6
	data := make([][]byte, blobs)
	readers := make([]*endRecorder, blobs)
	errs := make([]error, blobs)
	var wg sync.WaitGroup
	for i := range blobs {
		data[i] = randomBytes(5<<19+i, uint64(100+i))
		body := data[i]
		if i == blobs-1 {
			body = append(append([]byte{}, body[:len(body)-1]...), body[len(body)-1]^1)
		}
		readers[i] = &endRecorder{Reader: bytes.NewReader(body)}
		desc := ocispec.Descriptor{Digest: digest.FromBytes(data[i]), Size: int64(len(data[i]))}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = u.Push(ctx, desc, readers[i])
		}()
	}
	wg.Wait()

	direct, _ := client.Repository(reg + "/stellaops/pool")
	for i := range blobs {
		desc := ocispec.Descriptor{Digest: digest.FromBytes(data[i]), Size: int64(len(data[i]))}
		r := readers[i]
		if i == blobs-1 {
			if !errors.Is(errs[i], errdef.ErrDigestMismatch) || r.calls != 1 || !errors.Is(r.err, errdef.ErrDigestMismatch) {
				t.Errorf("bad content: push %v, told %d times (%v)", errs[i], r.calls, r.err)
			}
			if ok, _ := direct.Blobs().Exists(ctx, desc); ok {
				t.Errorf("bad content %s completed", desc.Digest)
			}
			continue
		}
		if errs[i] != nil || r.calls != 1 || r.err != nil {
			t.Fatalf("blob %d: push %v, told %d times (%v)", i, errs[i], r.calls, r.err)
		}
		got, err := sampleRead(ctx, direct, desc)
		if err != nil || !bytes.Equal(got, data[i]) {
			t.Errorf("blob %d: registry holds %d different bytes (%v)", i, len(got), err)
		}
	}
	if n := transfer.FreeBuffers(pool); n != pool.Slots() {
		t.Errorf("%d of %d buffers back in the pool", n, pool.Slots())
	}
	if proxy.Injected.Load() == 0 {
		t.Error("no fault was injected")
	}
}

// TestSmallBlobBuffersBounded pushes 32 blobs of 1 MiB at once through a
// pool, as an import at --concurrency 32 or more of a bundle of such blobs
// does: each is sent from a buffer of its own size, outside the pool's, and
// together they hold no more than the default concurrency's (10 MiB: 8
// workers and 2 beside), so that no more than ten of their requests carry
// content at a time. Each held its own, 256 MiB at --concurrency 256.
func TestSmallBlobBuffersBounded(t *testing.T) {
	var inFlight, peak atomic.Int64
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if (r.Method == http.MethodPatch || r.Method == http.MethodPut) && r.ContentLength != 0 {
				n := inFlight.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				time.Sleep(100 * time.Millisecond)
				defer inFlight.Add(-1)
			}
			next.ServeHTTP(w, r)
		})
	})
	up, err := testutil.Client(t).UploadRepository(host + "/stellaops/small")
	if err != nil {
		t.Fatal(err)
	}
	pool := transfer.NewChunkPool(12, 4<<20)
	u := &transfer.Uploader{Repo: up, Pool: pool, Backoff: time.Millisecond, Attempts: 2}
	ctx := context.Background()
	const blobs = 32
	g, ctx := errgroup.WithContext(ctx)
	for i := range blobs {
		data := randomBytes(1<<20, uint64(300+i))
		desc := ocispec.Descriptor{Digest: digest.FromBytes(data), Size: int64(len(data))}
		g.Go(func() error { return u.Push(ctx, desc, bytes.NewReader(data)) })
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	want := int64(transfer.DefaultConcurrency + transfer.SmallWorkers(transfer.DefaultConcurrency))
	if p := peak.Load(); p > want {
		t.Errorf("%d blobs of 1 MiB sent at once from their own buffers (%d MiB); want at most %d", p, p, want)
	}
}
