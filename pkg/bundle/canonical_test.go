package bundle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// referenceCanonical is the definition of the canonical form, as Canonical
// made it before: v encoded, decoded into a generic value, encoded again
// indented without HTML escaping.
func referenceCanonical(t testing.TB, v any, indent bool) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(generic); err != nil {
		t.Fatal(err)
	}
	if indent {
		return buf.Bytes()
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	return compact.Bytes()
}

// scaleManifest is the manifest.json of a release of n two-platform images
// with an SBOM referrer each, and advisories advisory files.
func scaleManifest(n, advisories int) *Manifest {
	m := validManifest()
	m.Images = nil
	for i := range n {
		d := digest.Digest(fmt.Sprintf("sha256:%064x", i))
		name := fmt.Sprintf("extra-%05d", i)
		m.Images = append(m.Images, Image{Name: name, Source: "registry.example:5000/stellaops/extra/" + name + "@" + d.String(), Repository: "stellaops/extra/" + name,
			Tags: []string{"2025.10.0"}, Digest: d, MediaType: ocispec.MediaTypeImageIndex, Size: 500, Platforms: []string{"linux/amd64", "linux/arm64"},
			Referrers: []Referrer{{Digest: digest.Digest(fmt.Sprintf("sha256:%064x", n+i)), MediaType: ocispec.MediaTypeImageManifest, ArtifactType: "application/spdx+json", Size: 600, Subject: d}}})
	}
	for i := range advisories {
		m.Advisories = append(m.Advisories, File{Path: fmt.Sprintf("advisories/extra/%03d/adv-%06d.json", i%100, i), Source: "extra",
			Digest: digest.Digest(fmt.Sprintf("sha256:%064x", 2*n+i)), Size: 40, MediaType: MediaTypeAdvisoryJSON})
	}
	return m
}

// TestCanonicalIsTheDefinition: Canonical and Compact give, byte for byte,
// what the generic round trip that defines the canonical form gives, for
// the documents we write and for what only a json.RawMessage or a map can
// spell: keys out of order or given twice, escapes, HTML, control and
// non-ASCII characters, invalid UTF-8, empty and nested containers.
func TestCanonicalIsTheDefinition(t *testing.T) {
	root, err := RootIndex(scaleManifest(3, 2), ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("m"), Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	var index ocispec.Index
	if err := json.Unmarshal(root.Bytes, &index); err != nil {
		t.Fatal(err)
	}
	values := map[string]any{
		"manifest":  scaleManifest(20, 30),
		"valid":     validManifest(),
		"index":     index,
		"empty":     map[string]any{"a": map[string]any{}, "b": []any{}, "c": []any{[]any{}, map[string]any{}, nil}},
		"strings":   map[string]string{"<b>&": "<i>&</i>", "z\u2028": "\u2029", "é": "ü\x01\t\"\\", "\xff": "\xfe", "": ""},
		"numbers":   []any{0, -1, 1.5, 1e21, int64(9223372036854775807), json.Number("12.50")},
		"raw":       json.RawMessage(`{"b": 1, "a": [ {"y":"\u0041\u003c","x":null} ], "b":2, "\u0063":true, "c\u00e9": "\/"}`),
		"nested":    [][]map[string][]int{{{"b": {1, 2}, "a": nil}}, {}},
		"scalar":    "just a string",
		"deep keys": map[string]any{"a": map[string]any{"b": map[string]any{"d": 1, "c": []any{map[string]any{"f": 1, "e": 2}}}}, "0": 0},
	}
	for name, v := range values {
		for _, indent := range []bool{true, false} {
			want := referenceCanonical(t, v, indent)
			got, err := Compact(v)
			if indent {
				got, err = Canonical(v)
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s (indent %v): at byte %d\ngot  %q\nwant %q", name, indent, firstDifference(got, want), got, want)
			}
			if indent {
				if at, err := canonicalDifference(v, want); err != nil || at != -1 {
					t.Errorf("%s: canonicalDifference = %d, %v; want -1", name, at, err)
				}
				for _, cut := range []int{0, len(want) / 2, len(want) - 1} {
					edited := append(append([]byte{}, want[:cut]...), 'X')
					if at, _ := canonicalDifference(v, edited); at != cut {
						t.Errorf("%s: canonicalDifference with byte %d changed = %d", name, cut, at)
					}
				}
				if at, _ := canonicalDifference(v, append(append([]byte{}, want...), ' ')); at != len(want) {
					t.Errorf("%s: canonicalDifference with a byte more = %d, want %d", name, at, len(want))
				}
			}
		}
	}
}

// allocatedBy is what f allocates in all: a bound on what it adds to the
// heap at its most.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestCanonicalMemory: checking the largest manifest.json a bundle may hold
// against its canonical form allocates a fraction of its size (it is
// compared as it is made), and writing it some three times its size (the
// compact encoding and the output), where the generic value it was made
// from allocated 13 times its size (15 times for Canonical, 17 for the
// check that made Canonical and compared it), the most of what a verify or
// an import held.
func TestCanonicalMemory(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation allocates on its own")
	}
	m := scaleManifest(2300, 1000)
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > MaxManifestJSONSize || len(data) < MaxManifestJSONSize*3/4 {
		t.Fatalf("manifest.json of %d bytes, want near the %d bound", len(data), MaxManifestJSONSize)
	}
	size := uint64(len(data))
	generic := allocatedBy(func() { referenceCanonical(t, m, true) })
	if got := allocatedBy(func() { _, err = Canonical(m) }); err != nil || got > 3*size {
		t.Errorf("Canonical of a %d-byte manifest.json allocated %d bytes (%.1fx; the generic value %.1fx), want at most 3x: %v",
			size, got, float64(got)/float64(size), float64(generic)/float64(size), err)
	}
	if got := allocatedBy(func() { _, err = canonicalDifference(m, data) }); err != nil || got > 2*size {
		t.Errorf("checking a %d-byte manifest.json allocated %d bytes (%.1fx; the generic value %.1fx), want at most 2x: %v",
			size, got, float64(got)/float64(size), float64(generic)/float64(size), err)
	}
}
