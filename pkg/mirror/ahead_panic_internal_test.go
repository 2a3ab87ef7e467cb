package mirror

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	oremote "oras.land/oras-go/v2/registry/remote"

	"github.com/stellaops/mirror/pkg/errdef"
)

// panicky is an HTTP client with a bug: every request panics.
type panicky struct{}

func (panicky) Do(*http.Request) (*http.Response, error) {
	panic("test: the client broke")
}

// TestCheckAheadPanicIsTheBlobsAnswer: a panic (a bug) in the check of
// whether a blob is there is that blob's answer, an error wrapping
// errdef.ErrInternal, as any error of the check is. Since 93d6372 recovered
// the panics of transfer.LargestFirstWithSmall's workers, it ended the
// check with the answer never given, and the upload waiting for it waited
// for good, the run hanging where the panic had ended it (found by review).
func TestCheckAheadPanicIsTheBlobsAnswer(t *testing.T) {
	ref, err := oremote.NewRepository("reg.invalid/a")
	if err != nil {
		t.Fatal(err)
	}
	ref.Client = panicky{}
	tgt := &target{host: "reg.invalid", repos: map[string]*oremote.Repository{"a": ref}}
	var blobs []*blobPlace
	for i := range 4 {
		data := []byte{byte(i)}
		blobs = append(blobs, &blobPlace{desc: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(data), Size: int64(len(data)) << (10 * i)}, repos: []string{"a"}})
	}
	answers, stop := tgt.checkAhead(context.Background(), blobs, 2, nil, true, func(error) {})
	defer stop()
	// Only a failure waits this long: the answer never came.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, b := range blobs {
		if _, err := answers[b].wait(ctx); !errors.Is(err, errdef.ErrInternal) {
			t.Fatalf("answer for %s: %v; want an internal error (the panic)", b.desc.Digest, err)
		}
	}
}

// TestCheckAheadSchedulingPanicAnswersEveryBlob: a panic (a bug) in the
// goroutine that orders and starts the checks, outside any worker, is the
// answer of every blob not yet answered, an internal error; it ended the
// process with Go's exit code 2, a digest mismatch's (found by review).
func TestCheckAheadSchedulingPanicAnswersEveryBlob(t *testing.T) {
	defer func(f func(context.Context, []*blobPlace, func(*blobPlace) int64, int, func(context.Context, *blobPlace) error) error) {
		askLargestFirst = f
	}(askLargestFirst)
	askLargestFirst = func(context.Context, []*blobPlace, func(*blobPlace) int64, int, func(context.Context, *blobPlace) error) error {
		panic("test: the scheduling broke")
	}
	tgt := &target{host: "reg.invalid", repos: map[string]*oremote.Repository{}}
	var blobs []*blobPlace
	for i := range 3 {
		data := []byte{byte(i)}
		blobs = append(blobs, &blobPlace{desc: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(data), Size: 1}, repos: []string{"a"}})
	}
	held := map[digest.Digest]bool{blobs[0].desc.Digest: true}
	answers, stop := tgt.checkAhead(context.Background(), blobs, 2, held, true, func(error) {})
	defer stop()
	// Only a failure waits this long: the answer never came.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if ok, err := answers[blobs[0]].wait(ctx); !ok || err != nil {
		t.Errorf("held blob: %v, %v; want it held", ok, err)
	}
	for _, b := range blobs[1:] {
		if _, err := answers[b].wait(ctx); !errors.Is(err, errdef.ErrInternal) || !strings.Contains(err.Error(), "the scheduling broke") {
			t.Fatalf("answer for %s: %v; want an internal error (the panic)", b.desc.Digest, err)
		}
	}
}
