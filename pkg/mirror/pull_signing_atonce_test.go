package mirror_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// A registry bundle's signing is read in three round trips after its
// referrers are listed, not seven: both referrers (signature and files) at
// once, then SHA256SUMS, then the envelope and the files at once. Here
// each of those sets is held until all of it is in flight together: on
// the old code, which read each after the one before it, none ever was.
// pull, sync, inspect, import from a registry and the check of every held
// root read a signing so.
func TestRegistrySigningReadAtOnce(t *testing.T) {
	s := newSignedSample(t, sample.Spec{}, 0)
	var blobs []string // the envelope's and the files' paths
	for _, name := range []string{"manifest.dsse", "SHA256SUMS.sig", "public-key.pem"} {
		data, err := os.ReadFile(filepath.Join(s.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, fmt.Sprintf("/v2/stellaops/mirror-bundle/blobs/sha256:%x", sha256.Sum256(data)))
	}
	referrers, together := testutil.NewBarrier(2), testutil.NewBarrier(len(blobs))
	host := testutil.RegistryWrapped(t, func(next http.Handler) http.Handler { return referrers.Wrap(together.Wrap(next)) })
	ref := host + "/stellaops/mirror-bundle:2025.10.0"
	pushed, err := mirror.Push(context.Background(), mirror.PushOptions{Now: testNow, Source: s.dir, Reference: ref,
		Client: testutil.Client(t), Transfer: transferOpts()})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := testutil.Client(t).Repository(host + "/stellaops/mirror-bundle")
	if err != nil {
		t.Fatal(err)
	}
	root, err := repo.Resolve(context.Background(), "2025.10.0")
	if err != nil || root.Digest != pushed.Root {
		t.Fatalf("root %s, pushed %s: %v", root.Digest, pushed.Root, err)
	}
	var listed []string
	if err := repo.Referrers(context.Background(), root, "", func(page []ocispec.Descriptor) error {
		for _, d := range page {
			listed = append(listed, "/v2/stellaops/mirror-bundle/manifests/"+d.Digest.String())
		}
		return nil
	}); err != nil || len(listed) != 2 {
		t.Fatalf("the root's referrers: %q (%v), want its signature and files", listed, err)
	}
	referrers.Hold(func(r *http.Request) bool { return r.Method == http.MethodGet && slices.Contains(listed, r.URL.Path) })
	together.Hold(func(r *http.Request) bool { return r.Method == http.MethodGet && slices.Contains(blobs, r.URL.Path) })
	pulled := make(chan error, 1)
	go func() {
		_, err := mirror.Pull(context.Background(), mirror.PullOptions{Reference: ref, Output: filepath.Join(t.TempDir(), "pulled"),
			Trust: trustKeys(s.pub), Client: testutil.Client(t), Transfer: transferOpts()})
		pulled <- err
	}()
	// In order: the files are asked for only once the referrers are read.
	for i, b := range []*testutil.Barrier{referrers, together} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := b.Wait(ctx); err != nil {
			t.Errorf("%s: %v", []string{"the root's two referrers", "the envelope and the files"}[i], err)
		}
		cancel()
	}
	if err := <-pulled; err != nil {
		t.Fatal(err)
	}
}
