package transfer_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/transfer"
)

// benchChunk is the uploads' request size: STELLA_BENCH_CHUNK_MIB, or
// transfer.DefaultChunkSize.
func benchChunk() int64 {
	n, _ := strconv.ParseInt(os.Getenv("STELLA_BENCH_CHUNK_MIB"), 10, 64)
	return max(n, 0) << 20
}

// BenchmarkUploader measures pushing 256 MiB into distribution as one blob,
// and as 4 blobs in parallel: how fast the registry takes content here
// (STELLA_BENCH_CHUNK_MIB sets the request size of the streamed uploads).
func BenchmarkUploader(b *testing.B) {
	reg := testutil.Distribution(b)
	client := testutil.Client(b)
	const total = 256 << 20
	for _, mode := range []string{"stream", "at"} {
		for _, parts := range []int{1, 4} {
			b.Run(fmt.Sprintf("%s/parallel=%d", mode, parts), func(b *testing.B) {
				b.SetBytes(total)
				for i := 0; b.Loop(); i++ {
					b.StopTimer()
					var blobs [][]byte
					var descs []ocispec.Descriptor
					for p := 0; p < parts; p++ {
						data := randomBytes(total/parts, uint64(i*10+p+parts*100))
						blobs = append(blobs, data)
						descs = append(descs, blobDesc(data))
					}
					b.StartTimer()
					g, ctx := errgroup.WithContext(context.Background())
					for p := 0; p < parts; p++ {
						repo, _ := client.UploadRepository(reg + "/bench/upload")
						u := &transfer.Uploader{Repo: repo, ChunkSize: benchChunk()}
						if mode == "at" {
							g.Go(func() error { return u.PushAt(ctx, descs[p], bytes.NewReader(blobs[p])) })
						} else {
							g.Go(func() error { return u.Push(ctx, descs[p], bytes.NewReader(blobs[p])) })
						}
					}
					if err := g.Wait(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
