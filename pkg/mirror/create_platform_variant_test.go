package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestCreatePlatformArmVariant: --platform takes an index's manifest by
// variant as containerd's platform matcher does. linux/arm is arm v7, and
// an arm entry naming no variant is v7; an arm request with no manifest of
// its variant takes the closest lower one (v7, then v6, then v5); arm64 is
// arm64/v8. Manifests that fit equally well are refused, naming the index
// and each of them, never one picked: linux/amd64 of an index of amd64/v2
// and amd64/v3 alone. No other architecture stands in. Before, a request
// naming no variant took whichever manifest of the architecture the index
// listed first (linux/arm took arm/v6 before arm/v7), and one naming a
// variant took that variant alone (linux/arm/v7 found nothing in an index
// of arm/v6, or of arm with no variant).
func TestCreatePlatformArmVariant(t *testing.T) {
	checkPlatformCases(t, "app/arm", []platformCase{
		{index: []string{"linux/arm/v6", "linux/arm/v7", "linux/arm64"}, platform: "linux/arm", want: "linux/arm/v7"},
		{index: []string{"linux/arm/v6", "linux/arm"}, platform: "linux/arm/v7", want: "linux/arm"},
		{index: []string{"linux/arm/v6", "linux/arm"}, platform: "linux/arm", want: "linux/arm"},
		{index: []string{"linux/arm/v5", "linux/arm/v6", "linux/arm64"}, platform: "linux/arm/v7", want: "linux/arm/v6"},
		{index: []string{"linux/arm/v5", "linux/arm64"}, platform: "linux/arm", want: "linux/arm/v5"},
		{index: []string{"linux/arm/v6", "linux/arm/v7"}, platform: "linux/arm/v6", want: "linux/arm/v6"},
		{index: []string{"linux/amd64", "linux/arm64/v8"}, platform: "linux/arm64", want: "linux/arm64/v8"},
		{index: []string{"linux/amd64", "linux/arm64"}, platform: "linux/arm64/v8", want: "linux/arm64"},
		{index: []string{"linux/amd64/v3", "linux/amd64"}, platform: "linux/amd64", want: "linux/amd64"},
		{index: []string{"linux/amd64/v2", "linux/amd64/v3"}, platform: "linux/amd64/v3", want: "linux/amd64/v3"},
		{index: []string{"linux/amd64/v2", "linux/amd64/v3", "linux/arm64"}, platform: "linux/amd64", refused: []string{"linux/amd64/v2", "linux/amd64/v3"}},
		{index: []string{"linux/arm", "linux/arm/v7"}, platform: "linux/arm", refused: []string{"linux/arm", "linux/arm/v7"}},
		{index: []string{"linux/arm64", "linux/arm64/v8"}, platform: "linux/arm64", refused: []string{"linux/arm64", "linux/arm64/v8"}},
		{index: []string{"linux/arm/v7", "linux/arm/v7#2"}, platform: "linux/arm/v6", notFound: true},
		{index: []string{"linux/arm/v7", "linux/amd64"}, platform: "linux/arm64", notFound: true},
		{index: []string{"linux/arm64", "linux/amd64"}, platform: "linux/arm/v7", notFound: true},
	})
}

// platformCase is an index of manifests of the platforms it lists and what
// create --platform carries of it.
type platformCase struct {
	index    []string // the platforms of its manifests, "#2" a second manifest of one
	platform string
	want     string   // the manifest carried, by its platform
	refused  []string // or those the refusal names
	notFound bool
	says     string // what a refusal says
}

// checkPlatformCases pushes each case's index into repository name of a
// test registry and checks what create --platform makes of it.
func checkPlatformCases(t *testing.T, name string, cases []platformCase) {
	t.Helper()
	src := testutil.Registry(t)
	r := rawRepo{t, src, name}
	img := map[string]ocispec.Descriptor{}
	on := func(platform string) ocispec.Descriptor {
		d, ok := img[platform]
		if !ok {
			d = r.image(platform, "", nil)
			img[platform] = d
		}
		// As the index spells it: a registry's index need not be normal.
		parts := strings.Split(strings.TrimSuffix(platform, "#2"), "/")
		d.Platform = &ocispec.Platform{OS: parts[0], Architecture: parts[1]}
		if len(parts) == 3 {
			d.Platform.Variant = parts[2]
		}
		return d
	}
	for _, c := range cases {
		var kids []ocispec.Descriptor
		for _, p := range c.index {
			kids = append(kids, on(p))
		}
		idx := r.index(kids...)
		out := filepath.Join(t.TempDir(), "bundle")
		opts := createOpts(t, releaseOf(t, src, map[string]digest.Digest{r.name: idx.Digest}), "", out)
		opts.Version, opts.Platform = "2025.10.0", c.platform
		_, err := mirror.Create(context.Background(), opts)
		name := "--platform " + c.platform + " of [" + strings.Join(c.index, " ") + "]"
		switch {
		case c.notFound:
			if !errors.Is(err, errdef.ErrNotFound) || !strings.Contains(fmt.Sprint(err), c.says) {
				t.Errorf("%s: err = %v, want ErrNotFound saying %q", name, err, c.says)
			}
		case c.refused != nil:
			t.Logf("%s: %v", name, err)
			if !errors.Is(err, errdef.ErrUsage) || strings.Count(err.Error(), idx.Digest.String()) != 1 {
				t.Errorf("%s: err = %v, want ErrUsage naming the index %s once", name, err, idx.Digest)
				continue
			}
			for _, p := range c.refused {
				if d := img[p].Digest; strings.Count(err.Error(), d.String()) != 1 {
					t.Errorf("%s: err = %v, want the manifest of %s, %s, named once", name, err, p, d)
				}
			}
		case err != nil:
			t.Errorf("%s: %v", name, err)
		default:
			if imgs := readManifest(t, out).Images; len(imgs) != 1 || imgs[0].Digest != img[c.want].Digest {
				t.Errorf("%s carried %+v, want the manifest of %s, %s", name, imgs, c.want, img[c.want].Digest)
			}
		}
	}
}
