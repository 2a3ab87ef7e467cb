package transfer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	oremote "oras.land/oras-go/v2/registry/remote"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/transfer"
)

// getOf matches the GETs of the given digests' manifests.
func getOf(dgs []digest.Digest) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/") && slices.Contains(dgs, digest.Digest(lastSegment(r)))
	}
}

// listingOf matches the listings of the given digests' referrers: through
// the referrers API, or the sha256-<hex> fallback tag (which a client uses
// once a registry answered a push with no OCI-Subject, as this one does).
func listingOf(dgs []digest.Digest) func(*http.Request) bool {
	return func(r *http.Request) bool {
		if r.Method != http.MethodGet {
			return false
		}
		last := lastSegment(r)
		if strings.Contains(r.URL.Path, "/manifests/") {
			last = strings.Replace(last, "-", ":", 1)
		} else if !strings.Contains(r.URL.Path, "/referrers/") {
			return false
		}
		return slices.Contains(dgs, digest.Digest(last))
	}
}

func lastSegment(r *http.Request) string { return r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:] }

func pushDoc(t *testing.T, repo *oremote.Repository, mediaType string, v any) ocispec.Descriptor {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return pushBytes(t, repo, mediaType, data)
}

func pushBytes(t *testing.T, repo *oremote.Repository, mediaType string, data []byte) ocispec.Descriptor {
	t.Helper()
	desc := content.NewDescriptorFromBytes(mediaType, data)
	if err := repo.Push(context.Background(), desc, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	return ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}
}

// multiPlatform pushes an index of n platform manifests, each with its own
// config and layer, and returns the index, its manifests and, in the order
// a depth-first walk meets them, the blobs.
func multiPlatform(t *testing.T, repo *oremote.Repository, n int) (ocispec.Descriptor, []ocispec.Descriptor, []ocispec.Descriptor) {
	t.Helper()
	var manifests, blobs []ocispec.Descriptor
	for i := range n {
		cfg := pushBytes(t, repo, ocispec.MediaTypeImageConfig, fmt.Appendf(nil, `{"architecture":"arch%d","os":"linux"}`, i))
		layer := pushBytes(t, repo, ocispec.MediaTypeImageLayer, fmt.Appendf(nil, "layer %d", i))
		m := pushDoc(t, repo, ocispec.MediaTypeImageManifest, ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
			Config: cfg, Layers: []ocispec.Descriptor{layer},
		})
		manifests = append(manifests, m)
		blobs = append(blobs, cfg, layer)
	}
	index := pushDoc(t, repo, ocispec.MediaTypeImageIndex, ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: manifests,
	})
	return index, manifests, blobs
}

func digests(ds []ocispec.Descriptor) []digest.Digest {
	out := make([]digest.Digest, len(ds))
	for i, d := range ds {
		out[i] = d.Digest
	}
	return out
}

// An index's platform manifests are fetched at once (a WAN round trip for
// the lot, not one each), and the graph is still the depth-first walk's:
// the index, then each manifest in the index's order, the blobs as met,
// the caller's Fetch asked before every document. On the old code, which
// fetched them one after another, only one GET reached the barrier.
func TestWalkFetchesAnIndexsManifestsTogether(t *testing.T) {
	const platforms = 4
	b := testutil.NewBarrier(platforms)
	host := testutil.RegistryWrapped(t, b.Wrap)
	repo, err := testutil.Client(t).Repository(host + "/test/multi")
	if err != nil {
		t.Fatal(err)
	}
	index, manifests, blobs := multiPlatform(t, repo, platforms)
	b.Hold(getOf(digests(manifests)))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g := transfer.NewGraph()
	var asked atomic.Int32
	g.Fetch = func(ctx context.Context, src content.Fetcher, desc ocispec.Descriptor) ([]byte, error) {
		asked.Add(1)
		return transfer.FetchBytes(ctx, src, desc)
	}
	walked := make(chan error, 1)
	go func() { walked <- g.Walk(ctx, repo, index) }()
	if err := b.Wait(ctx); err != nil {
		t.Error(err)
	}
	if err := <-walked; err != nil {
		t.Fatal(err)
	}
	var nodes []digest.Digest
	for _, n := range g.Nodes {
		nodes = append(nodes, n.Descriptor.Digest)
	}
	if want := append([]digest.Digest{index.Digest}, digests(manifests)...); !slices.Equal(nodes, want) {
		t.Errorf("Nodes = %v, want %v (pre-order, the index's order)", nodes, want)
	}
	if got, want := digests(g.Blobs), digests(blobs); !slices.Equal(got, want) {
		t.Errorf("Blobs = %v, want %v (first-seen order)", got, want)
	}
	if n := asked.Load(); n != platforms+1 {
		t.Errorf("Fetch asked %d times, want %d (once a document)", n, platforms+1)
	}
}

// A refusal of Fetch (a caller's budget) ends the walk with its error,
// the one the depth-first walk meets first whatever answered first.
func TestWalkReportsTheFirstRefusalInWalkOrder(t *testing.T) {
	host := testutil.Registry(t)
	repo, err := testutil.Client(t).Repository(host + "/test/refused")
	if err != nil {
		t.Fatal(err)
	}
	index, manifests, _ := multiPlatform(t, repo, 4)
	for range 20 {
		g := transfer.NewGraph()
		g.Fetch = func(ctx context.Context, src content.Fetcher, desc ocispec.Descriptor) ([]byte, error) {
			if desc.Digest == manifests[1].Digest || desc.Digest == manifests[3].Digest {
				return nil, fmt.Errorf("refused %s", desc.Digest)
			}
			return transfer.FetchBytes(ctx, src, desc)
		}
		err := g.Walk(context.Background(), repo, index)
		if want := "refused " + manifests[1].Digest.String(); err == nil || err.Error() != want {
			t.Fatalf("Walk = %v, want %s", err, want)
		}
	}
}

// The referrers of an image's manifests are listed at once, and their
// documents fetched at once; what WalkReferrersOf returns is what
// WalkReferrers of each subject, in turn, returned. On the old code
// (resolveImage listing each manifest's referrers after the other's) one
// listing at a time reached the barrier.
func TestWalkReferrersOfListsSubjectsTogether(t *testing.T) {
	const platforms = 4
	lists, docs := testutil.NewBarrier(platforms), testutil.NewBarrier(platforms)
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler { return lists.Wrap(docs.Wrap(next)) })
	repo, err := testutil.Client(t).Repository(host + "/test/signed")
	if err != nil {
		t.Fatal(err)
	}
	index, manifests, _ := multiPlatform(t, repo, platforms)
	empty := pushBytes(t, repo, ocispec.MediaTypeEmptyJSON, []byte("{}"))
	var subjects, refs []ocispec.Descriptor
	for i, m := range manifests {
		sig := pushBytes(t, repo, "application/vnd.test.sig", fmt.Appendf(nil, "signature %d", i))
		r := pushDoc(t, repo, ocispec.MediaTypeImageManifest, ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
			ArtifactType: "application/vnd.test.sig", Config: empty, Layers: []ocispec.Descriptor{sig}, Subject: &m,
		})
		subjects, refs = append(subjects, m), append(refs, r)
	}
	g := transfer.NewGraph()
	if err := g.Walk(context.Background(), repo, index); err != nil {
		t.Fatal(err)
	}
	lists.Hold(listingOf(digests(subjects)))
	docs.Hold(getOf(digests(refs)))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type walked struct {
		refs []transfer.Referrer
		err  error
	}
	done := make(chan walked, 1)
	go func() {
		got, err := g.WalkReferrersOf(ctx, repo, subjects)
		done <- walked{got, err}
	}()
	if err := lists.Wait(ctx); err != nil {
		t.Errorf("referrers listings: %v", err)
	}
	if err := docs.Wait(ctx); err != nil {
		t.Errorf("referrer manifests: %v", err)
	}
	w := <-done
	if w.err != nil {
		t.Fatal(w.err)
	}
	var got []string
	for _, r := range w.refs {
		got = append(got, r.Descriptor.Digest.String()+" of "+r.Subject.String())
	}
	var want []string
	for i := range refs {
		want = append(want, refs[i].Digest.String()+" of "+subjects[i].Digest.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("referrers = %v, want %v (each subject's in turn)", got, want)
	}
	// The graph is the one the subjects walked one after another make.
	seq := transfer.NewGraph()
	if err := seq.Walk(context.Background(), repo, index); err != nil {
		t.Fatal(err)
	}
	for _, s := range subjects {
		if _, err := seq.WalkReferrers(context.Background(), repo, s); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := nodeDigests(g), nodeDigests(seq); !slices.Equal(a, b) {
		t.Errorf("Nodes = %v, want %v", a, b)
	}
	if a, b := digests(g.Blobs), digests(seq.Blobs); !slices.Equal(a, b) {
		t.Errorf("Blobs = %v, want %v", a, b)
	}
}

func nodeDigests(g *transfer.Graph) []string {
	var out []string
	for _, n := range g.Nodes {
		out = append(out, n.Descriptor.Digest.String()+" "+n.Descriptor.ArtifactType)
	}
	return out
}
