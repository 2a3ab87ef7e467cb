package mirror

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/transfer"
)

// TestBlobsPanicStopsTheChecksAhead: a panic (a bug) in the reading of the
// blobs, from a stream or at random, is the blobs' error, an internal
// error (exit 1), and the checks of what the target holds, asked ahead of
// the reads, are stopped before it is returned. It went up through blobs
// with them still asking, and the uploads behind a stream and the spreads
// unwaited: the run's errgroup made it its error, and the import returned
// while they still went to the registry (found by review).
func TestBlobsPanicStopsTheChecksAhead(t *testing.T) {
	for _, tt := range []struct {
		name   string
		stream bool
	}{{"at random", false}, {"from a stream", true}} {
		t.Run(tt.name, func(t *testing.T) {
			// The registry holds every check of a blob until the client
			// gives it up.
			var inflight atomic.Int64
			arrived, left := make(chan struct{}, 16), make(chan struct{}, 16)
			host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method != http.MethodHead || !strings.Contains(r.URL.Path, "/blobs/") {
						next.ServeHTTP(w, r)
						return
					}
					inflight.Add(1)
					arrived <- struct{}{}
					<-r.Context().Done()
					inflight.Add(-1)
					left <- struct{}{}
				})
			})
			var blobs []*blobPlace
			byDig := map[digest.Digest]*blobPlace{}
			for i := range 3 {
				data := []byte{byte(i)}
				b := &blobPlace{desc: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(data), Size: int64(len(data))}, repos: []string{"a"}}
				blobs, byDig[b.desc.Digest] = append(blobs, b), b
			}
			src := &source{name: "bundle.tar"}
			if tt.stream {
				src.stream = func(int64, func(*layout.Entry, io.Reader) error) error {
					<-arrived // the checks are asking
					panic("test: the reading broke")
				}
			} else {
				defer func(f func(context.Context, []*blobPlace, func(*blobPlace) int64, int, func(context.Context, *blobPlace) error) error) {
					fetchLargestFirst = f
				}(fetchLargestFirst)
				fetchLargestFirst = func(context.Context, []*blobPlace, func(*blobPlace) int64, int, func(context.Context, *blobPlace) error) error {
					<-arrived
					panic("test: the reading broke")
				}
			}
			pl := &placer{plan: &placement{blobs: blobs, byDig: byDig}, tgt: newTarget(host, testutil.Client(t), transfer.Options{}),
				src: src, md: &metadata{Manifest: &bundle.Manifest{}}, log: slog.New(slog.DiscardHandler)}
			// Nothing else ends the checks: only blobs can stop them.
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			err := func() (err error) {
				defer func() {
					if v := recover(); v != nil {
						err = errors.New("it panicked through blobs, the checks ahead left asking")
					}
				}()
				return pl.blobs(ctx, 2)
			}()
			if !errors.Is(err, errdef.ErrInternal) || !strings.Contains(err.Error(), "test: the reading broke") {
				t.Fatalf("blobs: %v; want an internal error (the panic)", err)
			}
			// Only a failure waits this long: the checks were not stopped.
			deadline := time.After(10 * time.Second)
			for inflight.Load() > 0 {
				select {
				case <-left:
				case <-deadline:
					t.Fatalf("%d checks of blobs still held by the registry after blobs returned", inflight.Load())
				}
			}
		})
	}
}
