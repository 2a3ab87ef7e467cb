package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestDeltaBaseBlobLost: the far side imported the base, then lost a blob
// of it (garbage collection, a deletion), and the inventory carried back
// still lists it. The delta omitting it is refused before any tag is
// written, naming the blob and its image, and saying what to do: the base
// is there, so "import the base first" would send the operator in circles.
func TestDeltaBaseBlobLost(t *testing.T) {
	t.Parallel()
	f := newDeltaFixture(t)
	ctx := context.Background()
	inv, _ := f.inventory(t)
	deltaDir, deltaTar := f.create(t, inv, trustKeys(f.a.pub))
	omitted := map[digest.Digest]bool{}
	for _, d := range readManifest(t, deltaDir).Base.Omitted {
		omitted[d] = true
	}
	// A layer of an image unchanged since A, gone from every repository
	// that held it.
	var lost digest.Digest
	var repo string
	for _, img := range f.relB.Images {
		for dg := range img.Blobs {
			if omitted[dg] && !img.Manifests[dg] && dg != f.relB.Images[0].Descriptor.Digest {
				lost, repo = dg, img.Repository
			}
		}
		if lost != "" {
			break
		}
	}
	if lost == "" {
		t.Fatal("the delta omits no layer")
	}
	for _, r := range []string{"stellaops/mirror-bundle", repo} {
		testutil.Delete(t, f.target, r, "blobs", lost.String())
	}
	before := testutil.Tags(t, f.target)
	_, err := mirror.Import(ctx, importOpts(t, deltaTar, f.target, f.a.pub))
	if !errors.Is(err, errdef.ErrMalformed) {
		t.Fatalf("import with a lost base blob: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{lost.String(), repo, "full bundle", "fresh inventory"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not name %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "import the base first") {
		t.Errorf("error asks for the base the registry holds: %s", msg)
	}
	if after := testutil.Tags(t, f.target); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("tags before %v, after %v", before, after)
	}
}
