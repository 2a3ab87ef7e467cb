package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/transfer"
)

// Reading a bundle from a registry (pull, inspect REF, sync, import REF,
// create --base REF) fetched every referrer the registry listed for the
// root, whatever its artifactType and however many, and kept each (up to 4
// MiB) in memory, to find the two it needs (the DSSE signature and the files
// referrer). create bounds the referrers of one subject (transfer.
// MaxReferrers); here a registry could list thousands of 4 MiB manifests.
// The listing should be bounded as create bounds it.
func TestPullBoundsRootReferrers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	var o referrersOverride
	var manifestGets atomic.Int64
	host := testutil.RegistryWrapped(t, func(h http.Handler) http.Handler {
		inner := o.wrap(h)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/sha256:") {
				manifestGets.Add(1)
			}
			inner.ServeHTTP(w, r)
		})
	})
	client := testutil.Client(t)
	ref := host + "/stellaops/mirror-bundle"
	if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: ref, Trust: trustKeys(s.pub), Client: client, Transfer: transferOpts()}); err != nil {
		t.Fatal(err)
	}
	repo, _ := client.Repository(ref)
	root, err := repo.Resolve(ctx, s.rel.Spec.Version)
	if err != nil {
		t.Fatal(err)
	}
	real, err := registry.Referrers(ctx, repo, root, "")
	if err != nil {
		t.Fatal(err)
	}
	// Junk referrers: real, fetchable manifests of another subject, listed
	// as something else than a signature.
	r := rawRepo{t, host, "stellaops/mirror-bundle"}
	junk := append([]ocispec.Descriptor{}, real...)
	for i := range transfer.MaxReferrers + 1 {
		d := r.pushJSON(ocispec.MediaTypeImageManifest, ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: "application/example",
			Config: ocispec.DescriptorEmptyJSON, Layers: []ocispec.Descriptor{ocispec.DescriptorEmptyJSON}, Annotations: map[string]string{"n": fmt.Sprint(i)}})
		d.ArtifactType = "application/example"
		junk = append(junk, d)
	}
	o.set(root.Digest, junk)
	manifestGets.Store(0)
	_, err = mirror.Pull(ctx, mirror.PullOptions{Reference: ref + ":" + s.rel.Spec.Version, Output: filepath.Join(t.TempDir(), "pulled"),
		Trust: trustKeys(s.pub), Client: client, Transfer: transferOpts()})
	if errors.Is(err, errdef.ErrMalformed) && strings.Contains(err.Error(), root.Digest.String()) {
		return // a bounded listing, refused naming the root
	}
	if n := manifestGets.Load(); n > int64(transfer.MaxReferrers) {
		t.Fatalf("pull fetched %d manifests for a root listing %d referrers (err %v)", n, len(junk), err)
	}
}
