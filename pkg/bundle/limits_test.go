package bundle

import (
	"fmt"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// leanImage is a manifest.json entry at the least create writes: one
// platform, no referrer, one tag, a name of a few characters.
func leanImage(i int) Image {
	d := digest.Digest(fmt.Sprintf("sha256:%064x", i))
	name := fmt.Sprintf("a%d", i)
	return Image{Name: name, Source: "r/" + name + "@" + d.String(), Repository: name, Tags: []string{"1"},
		Digest: d, MediaType: ocispec.MediaTypeImageManifest, Size: 100, Platforms: []string{"linux/amd64"}}
}

// TestMaxImagesLeanImagesFit: the image limit and manifest.json's bound
// agree. MaxImages lean images fit the manifest.json a signed bundle holds,
// so the documented limit can be reached, and the limit is within a tenth
// of what they take, so it refuses next to no release that would fit. It used to be 10,000, which
// manifest.json holds at no entry size.
func TestMaxImagesLeanImagesFit(t *testing.T) {
	m := validManifestWithoutImages()
	for i := range MaxImages {
		m.Images = append(m.Images, leanImage(i))
	}
	data := mustMarshal(t, m)
	if len(data) > MaxManifestJSONSize {
		t.Errorf("%d lean images take %d bytes of manifest.json, over the %d a signed bundle holds", MaxImages, len(data), MaxManifestJSONSize)
	}
	entry := (len(data) - len(mustMarshal(t, validManifestWithoutImages()))) / MaxImages
	if entry > leanImageEntry || entry < leanImageEntry*9/10 {
		t.Errorf("a lean image takes %d bytes of manifest.json; MaxImages allows it %d: want them within a tenth", entry, leanImageEntry)
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
		m.Images = append(img, Image{Name: "a", Source: "r.io/s/a@" + d.String(), Repository: fmt.Sprintf("s/a%d", i), Tags: []string{"2025.10.0"},
			Digest: d, MediaType: ocispec.MediaTypeImageManifest, Size: 100})
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("%d images: %v", len(m.Images), err)
	}
	for i := len(m.Images); i <= MaxReadImages; i++ {
		d := digest.Digest(fmt.Sprintf("sha256:%064x", i))
		m.Images = append(m.Images, Image{Name: "a", Source: "r.io/s/a@" + d.String(), Repository: fmt.Sprintf("s/a%d", i), Tags: []string{"2025.10.0"},
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
