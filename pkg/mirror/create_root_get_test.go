package mirror_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/mirror"
)

// create resolved each image with a HEAD of its pinned manifest and then
// read it with a GET: a round trip more, one after the other, for every
// image. One GET now does both: its answer names the digest, type and
// size, and its body is the root the walk reads.
func TestCreateReadsEachImageRootWithOneGet(t *testing.T) {
	reg := newCountedRegistry(t)
	src := reg.host
	refs := map[string]digest.Digest{
		"app/single": rawRepo{t, src, "app/single"}.image("single", "", nil).Digest,
	}
	multi := rawRepo{t, src, "app/multi"}
	refs["app/multi"] = multi.index(multi.image("amd64", "", nil), multi.image("arm64", "", nil)).Digest
	opts := createOpts(t, releaseOf(t, src, refs), "", filepath.Join(t.TempDir(), "bundle"))
	opts.Version = "2025.10.0"
	res, err := mirror.Create(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Manifest.Images) != 2 {
		t.Fatalf("bundle holds %d images, want 2", len(res.Manifest.Images))
	}
	for name, d := range refs {
		path := "/v2/" + name + "/manifests/" + d.String()
		if n := reg.count(http.MethodHead, path); n != 0 {
			t.Errorf("%s: %d HEADs of the pinned root, want none", name, n)
		}
		if n := reg.count(http.MethodGet, path); n != 1 {
			t.Errorf("%s: %d GETs of the pinned root, want 1", name, n)
		}
	}
}
