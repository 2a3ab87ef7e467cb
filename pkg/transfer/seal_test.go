package transfer_test

import (
	"context"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/transfer"
)

// TestSealedGraphAnswersAsBefore: a sealed graph (its lookups dropped, as
// create does for every image it holds) says the same of every digest, and
// a walk after Seal adds nothing twice.
func TestSealedGraphAnswersAsBefore(t *testing.T) {
	ctx := context.Background()
	host := testutil.Registry(t)
	repo, err := testutil.Client(t).Repository(host + "/test/multi")
	if err != nil {
		t.Fatal(err)
	}
	index, manifests, blobs := multiPlatform(t, repo, 3)
	g := transfer.NewGraph()
	if err := g.Walk(ctx, repo, index); err != nil {
		t.Fatal(err)
	}
	all := append(append([]digest.Digest{index.Digest}, digests(manifests)...), digests(blobs)...)
	all = append(all, digest.FromString("not in the graph"))
	type answer struct {
		has, node bool
		bytes     int
	}
	ask := func() map[digest.Digest]answer {
		out := map[digest.Digest]answer{}
		for _, d := range all {
			n, ok := g.Node(d)
			out[d] = answer{g.Has(d), ok, len(n.Bytes)}
		}
		return out
	}
	before := ask()
	nodes, nblobs := len(g.Nodes), len(g.Blobs)
	g.Seal()
	for d, a := range ask() {
		if a != before[d] {
			t.Errorf("%s: sealed %+v, before %+v", d, a, before[d])
		}
	}
	if err := g.Walk(ctx, repo, index); err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != nodes || len(g.Blobs) != nblobs {
		t.Errorf("a walk after Seal: %d nodes, %d blobs; want %d, %d", len(g.Nodes), len(g.Blobs), nodes, nblobs)
	}
}
