package mirror_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/layout"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/serve"
)

// benchLayerSize is the size of the layer every image shares: the blob the
// benchmarks move.
const benchLayerSize = 128 << 20

// BenchmarkBlobThroughput measures blob GET throughput (MB/s, from
// SetBytes) of one 128 MiB layer: read straight from the disk (the bundle
// directory's blob file, and its section of the tar); pulled over loopback
// HTTP from net/http's file server (the ceiling), from serve (tar and
// directory), and from the CNCF distribution registry holding the same blob
// (pushed to it directly: import does not exist yet). The page cache is
// warm for all of them.
func BenchmarkBlobThroughput(b *testing.B) {
	f := newServedSample(b, sample.Spec{BaseLayerSize: benchLayerSize})
	layer := largest(b, f.dir)
	blobPath := f.dir + "/blobs/sha256/" + layer.Digest.Encoded()

	b.Run("disk/dir-file", func(b *testing.B) {
		b.SetBytes(layer.Size)
		for b.Loop() {
			fh, err := os.Open(blobPath)
			if err != nil {
				b.Fatal(err)
			}
			copyAll(b, fh, layer.Size)
			fh.Close()
		}
	})
	b.Run("disk/tar-section", func(b *testing.B) {
		fh, err := os.Open(f.tar)
		if err != nil {
			b.Fatal(err)
		}
		defer fh.Close()
		st, _ := fh.Stat()
		x, err := layout.IndexTar(fh, st.Size())
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(layer.Size)
		for b.Loop() {
			sr, err := x.Blob(layer)
			if err != nil {
				b.Fatal(err)
			}
			copyAll(b, sr, layer.Size)
		}
	})
	// The ceiling for HTTP over loopback here: net/http sending the file
	// itself (sendfile).
	b.Run("http/servefile", func(b *testing.B) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, blobPath) }))
		defer srv.Close()
		getLoop(b, srv.URL, layer.Size)
	})
	for _, src := range []struct{ name, path string }{{"serve/tar", f.tar}, {"serve/dir", f.dir}} {
		b.Run(src.name, func(b *testing.B) {
			sb, err := mirror.OpenServed(context.Background(), f.serveOpts(src.path))
			if err != nil {
				b.Fatal(err)
			}
			defer sb.Close()
			srv := httptest.NewServer(serve.NewHandler(sb.Content, serve.Options{}))
			defer srv.Close()
			getLoop(b, srv.URL+"/v2/"+f.rel.Images[0].Repository+"/blobs/"+layer.Digest.String(), layer.Size)
		})
	}
	b.Run("distribution", func(b *testing.B) {
		host := testutil.Distribution(b)
		repo := f.rel.Images[0].Repository
		r := testutil.Client(b)
		dst, err := r.Repository(host + "/" + repo)
		if err != nil {
			b.Fatal(err)
		}
		fh, err := os.Open(blobPath)
		if err != nil {
			b.Fatal(err)
		}
		err = dst.Push(context.Background(), layer, fh)
		fh.Close()
		if err != nil {
			b.Fatal(err)
		}
		getLoop(b, "http://"+host+"/v2/"+repo+"/blobs/"+layer.Digest.String(), layer.Size)
	})
}

func getLoop(b *testing.B, url string, size int64) {
	b.Helper()
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %s", url, resp.Status)
		}
		copyAll(b, resp.Body, size)
		resp.Body.Close()
	}
}

// copyAll reads r to its end through a 256 KiB buffer, as a client would.
func copyAll(b *testing.B, r io.Reader, want int64) {
	b.Helper()
	n, err := io.CopyBuffer(discard{}, r, make([]byte, 256<<10))
	if err != nil || n != want {
		b.Fatalf("read %d bytes (%v), want %d", n, err, want)
	}
}

// discard hides io.Discard's ReadFrom, so that every source is read with
// the same buffer.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// largest returns the descriptor of the bundle's largest blob.
func largest(b *testing.B, dir string) ocispec.Descriptor {
	b.Helper()
	entries, err := os.ReadDir(dir + "/blobs/sha256")
	if err != nil {
		b.Fatal(err)
	}
	var best ocispec.Descriptor
	for _, e := range entries {
		info, _ := e.Info()
		if info.Size() > best.Size {
			best = ocispec.Descriptor{MediaType: bundle.MediaTypeManifestJSON, Digest: digest.NewDigestFromEncoded(digest.SHA256, e.Name()), Size: info.Size()}
		}
	}
	best.MediaType = "application/octet-stream"
	return best
}
