package mirror_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestPullOutputThatIsAReference: pull REF DIR given a registry reference
// for DIR (pull SRC DST, meaning sync) wrote the bundle into a directory
// named after it, ./HOST:PORT/stellaops/mirror-bundle, and said "Pulled …
// into HOST:PORT/stellaops/mirror-bundle", exit 0: read as if the
// destination registry held it. A DIR that does not exist and begins with
// HOST:PORT/ is refused, naming sync, and nothing is written; ./ before it
// names such a directory.
func TestPullOutputThatIsAReference(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	host := testutil.Registry(t)
	client := testutil.Client(t)
	if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/stellaops/mirror-bundle", Client: client, Transfer: transferOpts()}); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	ref := host + "/stellaops/mirror-bundle:" + s.rel.Spec.Version
	out := host + "/site/mirror-bundle"
	_, err := mirror.Pull(ctx, mirror.PullOptions{Reference: ref, Output: out, Client: client, Transfer: transferOpts()})
	want := `pull: "` + out + `" reads as a registry reference (HOST:PORT/…), not a directory: stella mirror sync copies a bundle between registries`
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want ErrUsage and %q", err, want)
	}
	if entries, _ := os.ReadDir("."); len(entries) != 0 {
		t.Errorf("wrote %s", entries[0].Name())
	}
	if _, err := mirror.Pull(ctx, mirror.PullOptions{Reference: ref, Output: "./" + out, Client: client, Transfer: transferOpts()}); err != nil {
		t.Errorf("./%s: %v", out, err)
	}
}

// TestPullOutputNamedLikeHostPort: a DIR with a : and no / (pull REF
// mirror-bundle:2025) was refused as "reads as a registry reference
// (HOST:PORT/…)"; it is a directory, as docker would read no host in it.
// A registry's own name (localhost:5000, registry.internal:5000) is still
// refused (found by review).
func TestPullOutputNamedLikeHostPort(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	host := testutil.Registry(t)
	client := testutil.Client(t)
	if _, err := mirror.Push(ctx, mirror.PushOptions{Now: testNow, Source: s.dir, Reference: host + "/stellaops/mirror-bundle", Client: client, Transfer: transferOpts()}); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	ref := host + "/stellaops/mirror-bundle:" + s.rel.Spec.Version
	for _, out := range []string{"localhost:5000", "registry.internal:5000", host} {
		if _, err := mirror.Pull(ctx, mirror.PullOptions{Reference: ref, Output: out, Client: client, Transfer: transferOpts()}); !errors.Is(err, errdef.ErrUsage) {
			t.Errorf("%s: %v, want ErrUsage", out, err)
		}
	}
	if _, err := mirror.Pull(ctx, mirror.PullOptions{Reference: ref, Output: "mirror-bundle:2025", Client: client, Transfer: transferOpts()}); err != nil {
		t.Fatalf("mirror-bundle:2025: %v", err)
	}
	if _, err := os.Stat("mirror-bundle:2025/oci-layout"); err != nil {
		t.Error(err)
	}
}
