package mirror_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// import --bundle-repo naming an image's repository: the bundle's own tag
// (the release version) is the image's tag there too. The bundle's tag was
// written last, so the image's tag named the bundle root, not the image,
// and a deployment pulling it got no image. It is refused as usage (exit
// 1) before anything is sent, naming the tag and the image.
func TestBundleTagWouldReplaceAnImageTag(t *testing.T) {
	ctx := context.Background()
	s := newSignedSample(t, sample.Spec{}, 0)
	repo := s.rel.Images[0].Repository
	dst := testutil.Registry(t)
	opts := importOpts(t, s.dir, dst, s.pub)
	opts.BundleRepo = repo
	_, err := mirror.Import(ctx, opts)
	want := "the bundle's tag " + repo + ":2025.10.0 would replace the tag of image " + repo + "@"
	if !errors.Is(err, errdef.ErrUsage) || !strings.Contains(err.Error(), want) {
		t.Fatalf("import --bundle-repo %s: %v, want usage naming %q", repo, err, want)
	}
	if tags := testutil.Tags(t, dst); len(tags) != 0 {
		t.Errorf("import wrote tags %v", tags)
	}
}
