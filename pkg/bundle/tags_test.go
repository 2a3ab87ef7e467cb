package bundle

import (
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/errdef"
)

// Two images that take one tag of one repository for different manifests
// are refused (import writes tags at once: one would name the other's
// content); one tag for the same manifest is no conflict.
func TestValidateRefusesATagTakenTwice(t *testing.T) {
	other := digest.FromString("another image")
	for _, tc := range []struct {
		name string
		edit func(m *Manifest)
		want string
	}{
		{"image tags", func(m *Manifest) {
			img := m.Images[0]
			img.Digest, img.Source = other, strings.Replace(img.Source, m.Images[0].Digest.String(), other.String(), 1)
			img.Referrers = nil
			m.Images = append(m.Images, img)
		}, "both tag " + validManifest().Images[0].Repository + ":" + validManifest().Images[0].Tags[0]},
		{"cosign tags", func(m *Manifest) {
			img := m.Images[0]
			img.Digest, img.Source = other, strings.Replace(img.Source, m.Images[0].Digest.String(), other.String(), 1)
			img.Tags = []string{"other"}
			// Both carry a signature of a manifest they share (a platform
			// manifest of two indexes), under its one cosign tag.
			img.Referrers = []Referrer{{Digest: digest.FromString("sig"), MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 10, Subject: m.Images[0].Digest, Tag: CosignTag(m.Images[0].Digest, ".sig")}}
			m.Images[0].Referrers = []Referrer{{Digest: digest.FromString("sig0"), MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 10, Subject: m.Images[0].Digest, Tag: CosignTag(m.Images[0].Digest, ".sig")}}
			m.Images = append(m.Images, img)
		}, "both tag " + validManifest().Images[0].Repository + ":" + CosignTag(validManifest().Images[0].Digest, ".sig")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := validManifest()
			tc.edit(m)
			err := m.Validate()
			if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want ErrMalformed saying %q", err, tc.want)
			}
		})
	}
	m := validManifest()
	img := m.Images[0]
	img.Repository = "other/repo"
	m.Images = append(m.Images, img)
	if err := m.Validate(); err != nil {
		t.Errorf("the same image, and so its tags, in two repositories: %v", err)
	}
}
