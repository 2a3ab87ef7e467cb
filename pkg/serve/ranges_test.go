package serve_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/serve"
)

// seekCounting is a BlobStore whose blobs count the reads that do not go
// on where the last one stopped: each costs a seekable archive a frame
// decoded from its start (up to 4 MiB for pack's .tar.zst and .tar.gz).
type seekCounting struct {
	store memStore
	mu    sync.Mutex
	next  int64
	seeks int
}

func (s *seekCounting) OpenBlob(ctx context.Context, desc ocispec.Descriptor) (serve.Blob, error) {
	data, ok := s.store[desc.Digest]
	if !ok {
		return s.store.OpenBlob(ctx, desc)
	}
	return serve.NopCloser(countingBlob{bytes.NewReader(data), s}), nil
}

type countingBlob struct {
	*bytes.Reader
	s *seekCounting
}

func (b countingBlob) ReadAt(p []byte, off int64) (int, error) {
	b.s.mu.Lock()
	if off != b.s.next {
		b.s.seeks++
	}
	b.s.next = off + int64(len(p))
	b.s.mu.Unlock()
	return b.Reader.ReadAt(p, off)
}

// TestBlobManyRangesAreBounded: one request with thousands of ranges,
// each a byte in descending order, made the blob seek once per range: on
// a seekable .tar.zst each is a frame decoded from its start (a 48 KB
// request cost 3.4 s of CPU in a 4 MiB layer). A request asks for a
// bounded number of ranges; more are not honoured one by one.
func TestBlobManyRangesAreBounded(t *testing.T) {
	f := newFixture(t)
	counting := &seekCounting{store: f.store}
	c := serve.NewContent(counting)
	data := f.docs[f.image1.Digest]
	if err := c.AddManifest(f.image1, data); err != nil {
		t.Fatal(err)
	}
	if err := c.Include("library/app", f.image1.Digest); err != nil {
		t.Fatal(err)
	}
	srv := f.server(t, serve.Options{})
	srv.Config.Handler = serve.NewHandler(c, serve.Options{})
	url := srv.URL + "/v2/library/app/blobs/" + f.layerA.Digest.String()
	var parts []string
	for i := range 2000 {
		at := 90<<10 - i*40
		parts = append(parts, fmt.Sprintf("%d-%d", at, at))
	}
	resp, body := do(t, "GET", url, map[string]string{"Range": "bytes=" + strings.Join(parts, ",")})
	if resp.StatusCode != 200 && resp.StatusCode != 206 {
		t.Fatalf("status %s", resp.Status)
	}
	if resp.StatusCode == 200 && !bytes.Equal(body, f.store[f.layerA.Digest]) {
		t.Errorf("200 with %d bytes, want the whole blob", len(body))
	}
	if counting.seeks > 17 {
		t.Errorf("one request with %d ranges made the blob seek %d times", len(parts), counting.seeks)
	}
	// A few ranges are still served as such.
	counting.seeks = 0
	resp, _ = do(t, "GET", url, map[string]string{"Range": "bytes=0-1,10-11,100-101"})
	if resp.StatusCode != 206 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/byteranges") {
		t.Errorf("three ranges: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
}
