package bundle

import (
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/errdef"
)

// A cosign tag may name a signature of the image's root, of one of its
// referrers (an SBOM signed by its own digest), or of a manifest below
// either (a platform manifest of its index); one for any other digest
// names a signature of content the bundle does not carry, and is refused
// naming the tag and the image.
func TestCheckCosignTags(t *testing.T) {
	root := digest.Digest("sha256:" + hexDigest)
	sbom := digest.FromString("sbom")
	platform := digest.FromString("platform manifest")
	elsewhere := digest.FromString("not in the bundle")
	sigOf := func(subject digest.Digest, name string) Referrer {
		return Referrer{Digest: digest.FromString(name), MediaType: ocispec.MediaTypeImageManifest, Size: 10,
			Subject: subject, Tag: CosignTag(subject, ".sig")}
	}
	sbomRef := Referrer{Digest: sbom, MediaType: ocispec.MediaTypeImageManifest, Size: 10, Subject: root}
	below := func(d digest.Digest) bool { return d == platform }
	tests := []struct {
		name      string
		referrers []Referrer
		wantTag   string // the tag refused; "" for none
	}{
		{"no tags", []Referrer{sbomRef}, ""},
		{"tag of the root", []Referrer{sigOf(root, "root sig")}, ""},
		{"tag of a referrer", []Referrer{sbomRef, sigOf(sbom, "sbom sig")}, ""},
		{"tag of a tagged manifest", []Referrer{sigOf(root, "root sig"), sigOf(digest.FromString("root sig"), "sig of sig")}, ""},
		{"tag of a manifest below", []Referrer{sigOf(platform, "platform sig")}, ""},
		{"tag of a manifest not carried", []Referrer{sbomRef, sigOf(elsewhere, "stray sig")}, CosignTag(elsewhere, ".sig")},
		// The referrer the tag would sign is carried for no image here:
		// a referrer by subject of the missing one does not make it so.
		{"tag of a referrer's subject not carried", []Referrer{{Digest: sbom, MediaType: ocispec.MediaTypeImageManifest, Size: 10, Subject: elsewhere},
			sigOf(elsewhere, "stray sig")}, CosignTag(elsewhere, ".sig")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validManifest()
			m.Images[0].Referrers = tt.referrers
			if err := m.Validate(); err != nil {
				t.Fatalf("manifest.json does not validate: %v", err)
			}
			err := m.Images[0].CheckCosignTags(below)
			if tt.wantTag == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), tt.wantTag) || !strings.Contains(err.Error(), "s/a@"+root.String()) {
				t.Fatalf("err = %v, want ErrMalformed naming %s and the image s/a@%s", err, tt.wantTag, root)
			}
		})
	}
}
