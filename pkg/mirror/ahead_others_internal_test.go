package mirror

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	oremote "oras.land/oras-go/v2/registry/remote"
)

// holdingAll is a registry client that holds every blob asked for, and
// counts the HEADs by path.
type holdingAll struct {
	mu    sync.Mutex
	heads map[string]int
	size  int64
}

func (h *holdingAll) Do(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.heads[r.URL.Path]++
	h.mu.Unlock()
	dg := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	header := http.Header{"Content-Length": {strconv.FormatInt(h.size, 10)}, "Docker-Content-Digest": {dg}}
	return &http.Response{StatusCode: http.StatusOK, Header: header, ContentLength: h.size, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
}

// TestCheckAheadAsksKnownBlobsOthers: blobs all known held (a delta whose
// every blob its base has), with no first check to ask and so no slot
// freed by one, still have their other repositories asked ahead, each
// once, before any spread; their spreads then take those answers and ask
// nothing again.
func TestCheckAheadAsksKnownBlobsOthers(t *testing.T) {
	client := &holdingAll{heads: map[string]int{}, size: 1}
	repos := []string{"a", "b", "c", "d"}
	tgt := &target{host: "reg.invalid", repos: map[string]*oremote.Repository{}}
	for _, name := range repos {
		r, err := oremote.NewRepository("reg.invalid/" + name)
		if err != nil {
			t.Fatal(err)
		}
		r.Client = client
		tgt.repos[name] = r
	}
	var blobs []*blobPlace
	known := map[digest.Digest]bool{}
	for i := range 6 {
		data := []byte{byte(i)}
		b := &blobPlace{desc: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(data), Size: 1}, repos: repos}
		blobs = append(blobs, b)
		known[b.desc.Digest] = true
	}
	answers, stop := tgt.checkAhead(context.Background(), blobs, 2, known, true, func(error) {})
	defer stop()
	// Only a failure waits this long: nothing asked them.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, b := range blobs {
		others := answers[b].othersOnceHeld()
		if len(others) != len(repos)-1 {
			t.Fatalf("blob %s: %d answers for its other repositories, want %d", b.desc.Digest, len(others), len(repos)-1)
		}
		for i, a := range others {
			if ok, err := a.wait(ctx); !ok || err != nil {
				t.Fatalf("blob %s in %s, asked ahead: %v, %v; want held", b.desc.Digest, repos[i+1], ok, err)
			}
		}
	}
	for _, b := range blobs {
		if err := tgt.spread(context.Background(), b, answers[b], false); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range blobs {
		for _, repo := range repos {
			path := "/v2/" + repo + "/blobs/" + b.desc.Digest.String()
			want := 1
			if repo == repos[0] {
				want = 0 // known: not asked
			}
			if got := client.heads[path]; got != want {
				t.Errorf("HEAD %s sent %d times, want %d", path, got, want)
			}
		}
	}
}
