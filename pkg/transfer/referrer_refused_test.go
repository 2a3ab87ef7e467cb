package transfer_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/transfer"
)

// A referrer that is an index listing an index of images and an index of
// an OCI artifact manifest is passed over (skipped, with its refusal), and
// what its walk added before it met the artifact is taken back: the index
// beside, its new manifest and config are not in the graph, while its layer, which a referrer
// that is carried lists too, is, whichever of the two was walked first.
func TestWalkReferrerTakesBackARefusedIndex(t *testing.T) {
	ctx := context.Background()
	host := testutil.Registry(t)
	repo, err := testutil.Client(t).Repository(host + "/test/refused-referrer")
	if err != nil {
		t.Fatal(err)
	}
	index, manifests, blobs := multiPlatform(t, repo, 1)
	subject := manifests[0]
	beside, besideManifests, besideBlobs := multiPlatform(t, repo, 2) // an index: its manifest [0] and blobs [:2] are the subject's
	art := pushDoc(t, repo, bundle.MediaTypeArtifactManifest, map[string]any{"mediaType": bundle.MediaTypeArtifactManifest, "artifactType": "application/x.test"})
	inner := pushDoc(t, repo, ocispec.MediaTypeImageIndex, ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{art},
	})
	refused := pushDoc(t, repo, ocispec.MediaTypeImageIndex, ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Subject: &subject,
		Manifests: []ocispec.Descriptor{beside, inner},
	})
	empty := pushBytes(t, repo, ocispec.MediaTypeEmptyJSON, []byte("{}"))
	shared := besideBlobs[3] // the second manifest's layer
	good := pushDoc(t, repo, ocispec.MediaTypeImageManifest, ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: "application/spdx+json", Config: empty, Layers: []ocispec.Descriptor{shared}, Subject: &subject,
	})

	for name, order := range map[string][]ocispec.Descriptor{"refused first": {refused, good}, "carried first": {good, refused}} {
		t.Run(name, func(t *testing.T) {
			g := transfer.NewGraph()
			if err := g.Walk(ctx, repo, index); err != nil {
				t.Fatal(err)
			}
			for _, r := range order {
				skipped, err := g.WalkReferrer(ctx, repo, transfer.Referrer{Descriptor: r, Subject: subject.Digest})
				if err != nil || skipped != (r.Digest == refused.Digest) {
					t.Fatalf("WalkReferrer(%s) = %v, %v; want skipped only for the refused index %s", r.Digest, skipped, err, refused.Digest)
				}
			}
			var entry *bundle.EntryError
			if len(g.Skipped) != 1 || g.Skipped[0].Descriptor.Digest != refused.Digest || !errors.As(g.Skipped[0].Refused, &entry) || entry.Entry != art.Digest {
				t.Errorf("Skipped = %+v, want the refused index %s, refused for listing %s", g.Skipped, refused.Digest, art.Digest)
			}
			wantNodes := []string{index.Digest.String() + " ", subject.Digest.String() + " ", good.Digest.String() + " "}
			if got := nodeDigests(g); !slices.Equal(got, wantNodes) {
				t.Errorf("Nodes = %v, want %v", got, wantNodes)
			}
			wantBlobs := append(digests(blobs), empty.Digest, shared.Digest)
			got := digests(g.Blobs)
			slices.Sort(got)
			slices.Sort(wantBlobs)
			if !slices.Equal(got, wantBlobs) {
				t.Errorf("Blobs = %v, want %v", got, wantBlobs)
			}
			for _, d := range []ocispec.Descriptor{refused, beside, inner, art, besideManifests[1], besideBlobs[2]} {
				if g.Has(d.Digest) {
					t.Errorf("the graph holds %s (%s) of the referrer it passed over", d.Digest, d.MediaType)
				}
			}
		})
	}
}
