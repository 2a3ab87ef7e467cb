package transfer_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content/memory"

	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/transfer"
)

// panickyFetcher is a source with a bug: every fetch panics.
type panickyFetcher struct{}

func (panickyFetcher) Fetch(context.Context, ocispec.Descriptor) (io.ReadCloser, error) {
	panic("test: the fetcher broke")
}

// TestWorkerPanicIsInternalError: a panic in a worker of CopyBlobs or
// LargestFirstWithSmall is returned as an error wrapping errdef.ErrInternal
// (the CLI's exit 1, "internal error: panic: …"), with the stack of the
// goroutine that panicked; errgroup does not recover it, and unrecovered it
// ended the process with Go's exit code 2, a digest mismatch's.
func TestWorkerPanicIsInternalError(t *testing.T) {
	ctx := context.Background()
	data := []byte("a blob")
	desc := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(data), Size: int64(len(data))}
	check := func(name string, err error) {
		t.Helper()
		var p *errdef.Panic
		if !errors.Is(err, errdef.ErrInternal) || !errors.As(err, &p) {
			t.Fatalf("%s: error %v; want one wrapping errdef.ErrInternal", name, err)
		}
		if !strings.Contains(err.Error(), "internal error: panic: test: the fetcher broke") {
			t.Errorf("%s: error %q; want it to say internal error: panic: test: the fetcher broke", name, err)
		}
		if !strings.Contains(string(p.Stack), "panickyFetcher") && !strings.Contains(string(p.Stack), "panic_test.go") {
			t.Errorf("%s: stack does not show where it panicked:\n%s", name, p.Stack)
		}
	}

	_, err := transfer.CopyBlobs(ctx, []transfer.Job{{Desc: desc, Src: panickyFetcher{}, Dst: memory.New()}}, transfer.Options{Attempts: 1})
	check("CopyBlobs", err)

	items := []int64{5 << 20, 4 << 20, 100, 10}
	err = transfer.LargestFirstWithSmall(ctx, items, func(n int64) int64 { return n }, 4, func(_ context.Context, n int64) error {
		if n == 10 {
			_, err := panickyFetcher{}.Fetch(ctx, desc)
			return err
		}
		return nil
	})
	check("LargestFirstWithSmall", err)
}

// panickyReader is a source with a bug: it reads as data up to from, then
// panics.
type panickyReader struct {
	data []byte
	from int
	off  int
}

func (r *panickyReader) Read(p []byte) (int, error) {
	if r.off >= r.from {
		panic("test: the source broke")
	}
	n := copy(p, r.data[r.off:min(len(r.data), r.from)])
	r.off += n
	return n, nil
}

// TestUploadReadPanicIsInternalError: a panic (a bug) of the reader of an
// upload's content, which reads ahead of the requests in a goroutine of
// its own (readChunks), is the upload's error, wrapping errdef.ErrInternal
// with the stack of the read (the CLI's exit 1 and one line); it ended the
// process with Go's exit code 2, a digest mismatch's.
func TestUploadReadPanicIsInternalError(t *testing.T) {
	u := mediumUploader(t)
	data := randomBytes(5<<20+99, 65)
	desc := blobDesc(data)
	for _, from := range []int{0, 3 << 20} { // before the first chunk; mid-way
		err := u.Push(t.Context(), desc, &panickyReader{data: data, from: from})
		var p *errdef.Panic
		if !errors.As(err, &p) || !errors.Is(err, errdef.ErrInternal) || !strings.Contains(err.Error(), "internal error: panic: test: the source broke") {
			t.Fatalf("upload from a source panicking at byte %d: %v; want the internal error of the panic", from, err)
		}
		if !strings.Contains(string(p.Stack), "panickyReader") {
			t.Errorf("stack does not show where it panicked:\n%s", p.Stack)
		}
	}
}
