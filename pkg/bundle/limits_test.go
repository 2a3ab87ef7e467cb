package bundle

import (
	"fmt"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// heavyImage is a manifest.json entry at the size MaxImages allows each
// image: a four-platform index, signed by cosign (a .sig tag) with an SBOM
// attached, under long names, pulled by tag and digest.
func heavyImage(i int) Image {
	d := digest.Digest(fmt.Sprintf("sha256:%064x", i))
	name := fmt.Sprintf("scanner-worker-extended-%05d", i)
	repo := "stellaops/infrastructure/" + name
	return Image{Name: name, Source: "registry.stellaops.example.com:5000/" + repo + ":2025.10.0-stable@" + d.String(), Repository: repo,
		Tags: []string{"2025.10.0", "2025.10.0-stable"}, Digest: d, MediaType: ocispec.MediaTypeImageIndex, Size: 12345,
		Platforms: []string{"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/ppc64le"},
		Referrers: []Referrer{
			{Digest: d, MediaType: ocispec.MediaTypeImageManifest, Size: 1234, Subject: d, Tag: CosignTag(d, ".sig")},
			{Digest: d, MediaType: ocispec.MediaTypeImageManifest, ArtifactType: "application/spdx+json", Size: 1234, Subject: d},
		}}
}

// TestMaxImagesFitsSignedManifest: the image limit and manifest.json's
// bound agree. MaxImages images of a heavy entry each, with a quarter MiB
// of advisories and files beside them, fit the manifest.json a signed
// bundle holds, so the documented limit can be reached; it used to be
// 10,000, which manifest.json holds at no real entry size (about 3,000
// two-platform signed images fill it).
func TestMaxImagesFitsSignedManifest(t *testing.T) {
	m := validManifest()
	m.Images = nil
	for i := range MaxImages {
		m.Images = append(m.Images, heavyImage(i))
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if spare := MaxManifestJSONSize - len(data); spare < 256<<10 {
		t.Errorf("%d heavy images take %d bytes of manifest.json, leaving %d of the %d a signed bundle holds: want a quarter MiB to spare for advisories and files",
			MaxImages, len(data), spare, MaxManifestJSONSize)
	}
	if entry := (len(data) - len(mustMarshal(t, validManifestWithoutImages()))) / MaxImages; entry > imageEntryBudget {
		t.Errorf("a heavy image takes %d bytes of manifest.json, over the %d MaxImages allows each", entry, imageEntryBudget)
	}
}

// TestReadersTakeBundlesOverMaxImages: MaxImages bounds what create writes.
// Readers take up to MaxReadImages, the limit before it was lowered: a
// bundle an earlier create wrote, whose manifest.json is within every
// reader's bound, still verifies and imports.
func TestReadersTakeBundlesOverMaxImages(t *testing.T) {
	m := validManifest()
	m.Images = nil
	for i := range MaxImages + 1 {
		img := m.Images
		d := digest.Digest(fmt.Sprintf("sha256:%064x", i))
		m.Images = append(img, Image{Name: "a", Source: "r.io/s/a@" + d.String(), Repository: "s/a", Tags: []string{"2025.10.0"},
			Digest: d, MediaType: ocispec.MediaTypeImageManifest, Size: 100})
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("%d images: %v", len(m.Images), err)
	}
	for i := len(m.Images); i <= MaxReadImages; i++ {
		d := digest.Digest(fmt.Sprintf("sha256:%064x", i))
		m.Images = append(m.Images, Image{Name: "a", Source: "r.io/s/a@" + d.String(), Repository: "s/a", Tags: []string{"2025.10.0"},
			Digest: d, MediaType: ocispec.MediaTypeImageManifest, Size: 100})
	}
	if err := m.Validate(); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d images exceeds the limit of %d", MaxReadImages+1, MaxReadImages)) {
		t.Errorf("%d images: %v, want the reader's limit", len(m.Images), err)
	}
}

func validManifestWithoutImages() *Manifest {
	m := validManifest()
	m.Images = nil
	return m
}

func mustMarshal(t *testing.T, m *Manifest) []byte {
	t.Helper()
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}
