package bundle

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/errdef"
)

const hexDigest = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseImageRef(t *testing.T) {
	tests := []struct {
		in, registry, repo, tag string
		wantErr                 bool
	}{
		{in: "registry.stella-ops.org/stellaops/authority@sha256:" + hexDigest, registry: "registry.stella-ops.org", repo: "stellaops/authority"},
		{in: "localhost:5000/a/b:1.0@sha256:" + hexDigest, registry: "localhost:5000", repo: "a/b", tag: "1.0"},
		{in: "redis:7", registry: "docker.io", repo: "library/redis", tag: "7"},
		{in: "bitnami/redis@sha256:" + hexDigest, registry: "docker.io", repo: "bitnami/redis"},
		{in: "localhost/x:y", registry: "localhost", repo: "x", tag: "y"},
		{in: "r.io/UPPER:1", wantErr: true},
		{in: "r.io/a@sha512:" + hexDigest + hexDigest, wantErr: true},
		{in: "r.io/a", wantErr: true},
		{in: "r.io/a:bad tag", wantErr: true},
	}
	for _, tt := range tests {
		ref, err := ParseImageRef(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && (ref.Registry != tt.registry || ref.Repository != tt.repo || ref.Tag != tt.tag) {
			t.Errorf("%s: got %+v", tt.in, ref)
		}
	}
	if got := MapRepository("mirror/", "stellaops/authority"); got != "mirror/stellaops/authority" {
		t.Errorf("MapRepository = %s", got)
	}
}

func validManifest() *Manifest {
	created := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)
	return &Manifest{
		SchemaVersion: SchemaVersion, BundleID: "2025.10.0-stable-abc", Release: Release{Version: "2025.10.0", Channel: "stable"},
		MirrorGeneration: 1, CreatedAt: created, ExpiresAt: created.Add(time.Hour), Producer: Producer{Name: "stella mirror", Version: "test"},
		Images: []Image{{Name: "a", Source: "r.io/s/a@sha256:" + hexDigest, Repository: "s/a", Tags: []string{"2025.10.0"},
			Digest: digest.Digest("sha256:" + hexDigest), MediaType: ocispec.MediaTypeImageManifest, Size: 100}},
		Advisories: []File{{Path: "advisories/nvd.json.gz", Source: "nvd", Digest: digest.Digest("sha256:" + hexDigest), Size: 3, MediaType: MediaTypeAdvisoryGzip}},
		Files:      []File{},
	}
}

func TestManifestRoundTripAndValidation(t *testing.T) {
	m := validManifest()
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(data, []byte("}\n")) || !bytes.Contains(data, []byte("\n  \"advisories\": [")) {
		t.Errorf("not canonical: %s", data)
	}
	got, err := ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := got.Marshal()
	if !bytes.Equal(again, data) {
		t.Error("round trip changed the bytes")
	}
	tests := []struct {
		name   string
		mutate func(m *Manifest)
		want   string
	}{
		{"schema", func(m *Manifest) { m.SchemaVersion = 2 }, "schemaVersion"},
		{"version", func(m *Manifest) { m.Release.Version = "a/b" }, "release.version"},
		{"generation", func(m *Manifest) { m.MirrorGeneration = 0 }, "mirrorGeneration"},
		{"expiry", func(m *Manifest) { m.ExpiresAt = m.CreatedAt }, "expiresAt"},
		{"digest", func(m *Manifest) { m.Images[0].Digest = "sha256:zz" }, "images[0]"},
		{"media type", func(m *Manifest) { m.Images[0].MediaType = "text/plain" }, "media type"},
		{"size", func(m *Manifest) { m.Images[0].Size = MaxManifestSize + 1 }, "out of range"},
		{"repository", func(m *Manifest) { m.Images[0].Repository = "../x" }, "repository"},
		{"duplicate image", func(m *Manifest) { m.Images = append(m.Images, m.Images[0]) }, "listed twice"},
		{"escaping path", func(m *Manifest) { m.Advisories[0].Path = "advisories/../../etc/passwd" }, "not a clean relative path"},
		{"absolute path", func(m *Manifest) { m.Advisories[0].Path = "/etc/passwd" }, "advisories[0]"},
		{"wrong prefix", func(m *Manifest) { m.Advisories[0].Path = "scripts/x.sh" }, "not under advisories/"},
		{"duplicate path", func(m *Manifest) { m.Advisories = append(m.Advisories, m.Advisories[0]) }, "listed twice"},
		{"base", func(m *Manifest) { m.Base = &Base{Root: "sha256:" + hexDigest, Generation: 5} }, "base.generation"},
		// import writes a referrer's tag into the image's repository: only
		// cosign's tag for the referrer's own subject may be named, never
		// the release tag or another image's signature tag.
		{"referrer tag", func(m *Manifest) { m.Images[0].Referrers = []Referrer{tagged("2025.10.0")} }, "not cosign's tag"},
		{"referrer tag of another digest", func(m *Manifest) {
			m.Images[0].Referrers = []Referrer{tagged(CosignTag(digest.FromString("other"), ".sig"))}
		}, "not cosign's tag"},
		{"referrer tag suffix", func(m *Manifest) {
			m.Images[0].Referrers = []Referrer{tagged(CosignTag(digest.Digest("sha256:"+hexDigest), ".sigx"))}
		}, "not cosign's tag"},
		// One tag names one manifest: import would write the tag twice,
		// the last one winning, where serve refuses the bundle.
		{"referrer tag twice", func(m *Manifest) {
			other := tagged(CosignTag(digest.Digest("sha256:"+hexDigest), ".sig"))
			other.Digest = digest.FromString("another sig")
			m.Images[0].Referrers = []Referrer{tagged(CosignTag(digest.Digest("sha256:"+hexDigest), ".sig")), other}
		}, "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validManifest()
			tt.mutate(m)
			data, _ := m.Marshal()
			_, err := ParseManifest(data)
			if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrMalformed naming %q", err, tt.want)
			}
		})
	}
	for _, bad := range []string{`{"schemaVersion":1,"unknown":true}`, string(data) + "{}", "not json"} {
		if _, err := ParseManifest([]byte(bad)); !errors.Is(err, errdef.ErrMalformed) {
			t.Errorf("%.30q: err = %v", bad, err)
		}
	}
}

// tagged is a referrer of the image sha256:hexDigest attached by tag.
func tagged(tag string) Referrer {
	return Referrer{Digest: digest.FromString("sig"), MediaType: ocispec.MediaTypeImageManifest, Size: 10,
		Subject: digest.Digest("sha256:" + hexDigest), Tag: tag}
}

func TestCosignTagReferrerAccepted(t *testing.T) {
	for _, suffix := range CosignTagSuffixes {
		m := validManifest()
		m.Images[0].Referrers = []Referrer{tagged(CosignTag(digest.Digest("sha256:"+hexDigest), suffix))}
		data, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseManifest(data)
		if err != nil {
			t.Fatalf("%s: %v", suffix, err)
		}
		if want := "sha256-" + hexDigest + suffix; got.Images[0].Referrers[0].Tag != want {
			t.Errorf("tag %q, want %q", got.Images[0].Referrers[0].Tag, want)
		}
	}
}

// TestManifestRefusesControlCharacters: the free-text fields of
// manifest.json (names, channel, sources, media types, platforms) are
// printed by inspect, create and verify; a hostile bundle with a terminal
// escape or a newline in one could rewrite the screen or print a fake
// "Verified" line, so the reader refuses them.
func TestManifestRefusesControlCharacters(t *testing.T) {
	const evil = "a\x1b]0;pwned\a\nVerified   signed by sha256:fake"
	tests := []struct {
		name   string
		mutate func(m *Manifest)
	}{
		{"image name", func(m *Manifest) { m.Images[0].Name = evil }},
		{"image platform", func(m *Manifest) { m.Images[0].Platforms = []string{"linux/amd64", evil} }},
		{"referrer artifactType", func(m *Manifest) {
			m.Images[0].Referrers = []Referrer{{Digest: digest.Digest("sha256:" + hexDigest), MediaType: ocispec.MediaTypeImageManifest,
				ArtifactType: evil, Size: 10, Subject: digest.Digest("sha256:" + hexDigest)}}
		}},
		{"channel", func(m *Manifest) { m.Release.Channel = "stable\x1b[31m" }},
		{"producer", func(m *Manifest) { m.Producer.Version = evil }},
		{"base bundleId", func(m *Manifest) {
			m.MirrorGeneration = 2
			m.Base = &Base{BundleID: evil, Root: digest.Digest("sha256:" + hexDigest), Generation: 1}
		}},
		{"advisory source", func(m *Manifest) { m.Advisories[0].Source = "nvd\u009b2J" }},
		{"advisory media type", func(m *Manifest) { m.Advisories[0].MediaType = evil }},
		// Paths are printed too (inspect's ADVISORY column): an 8-bit CSI
		// or a bidirectional override in a file's name, not only ASCII's
		// controls.
		{"advisory path with a C1 CSI", func(m *Manifest) { m.Advisories[0].Path = "advisories/c1-\u009b31mRED.json" }},
		{"advisory path with a bidi override", func(m *Manifest) { m.Advisories[0].Path = "advisories/evil-\u202enosj.json" }},
		{"advisory path with an escape", func(m *Manifest) { m.Advisories[0].Path = "advisories/a\x1b[2J.json" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validManifest()
			tt.mutate(m)
			data, err := m.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ParseManifest(data); !errors.Is(err, errdef.ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

// TestValidPathTakesSpacesOfOtherScripts: refusing what is not printable
// in a path must not refuse a space other than U+0020 (an ideographic
// space, typed by a Japanese keyboard's space bar; a no-break space): a
// feed file so named was carried, and a bundle holding one verified,
// before paths were held to Printable.
func TestValidPathTakesSpacesOfOtherScripts(t *testing.T) {
	for _, p := range []string{"advisories/jvn/JVNDB\u30002025.json", "advisories/vendor\u00a0notes.json"} {
		if err := ValidPath(p); err != nil {
			t.Errorf("ValidPath(%q): %v", p, err)
		}
	}
	for _, p := range []string{"advisories/a\u2028b.json", "advisories/a\u200fb.json"} { // a line separator, a right-to-left mark
		if err := ValidPath(p); err == nil {
			t.Errorf("ValidPath(%q) took it", p)
		}
	}
}

// TestManifestRefusesTheImportRecordAsAnAdvisory: import keeps its record
// of the advisories it wrote in --advisories-dir, as
// .stella-advisories.json; an advisory of that name would be written over
// by it (or over it), and import would say it was written.
func TestManifestRefusesTheImportRecordAsAnAdvisory(t *testing.T) {
	m := validManifest()
	m.Advisories[0].Path = "advisories/" + AdvisoryRecordName
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseManifest(data); !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), AdvisoryRecordName) {
		t.Fatalf("err = %v, want ErrMalformed naming %s", err, AdvisoryRecordName)
	}
	m.Advisories[0].Path = "advisories/nvd/" + AdvisoryRecordName // not where import keeps it
	if data, err = m.Marshal(); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseManifest(data); err != nil {
		t.Fatalf("an advisory of that name in a feed's directory: %v", err)
	}
}

func TestRootIndexCheck(t *testing.T) {
	m := validManifest()
	meta := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("meta"), Size: 4}
	root, err := RootIndex(m, meta)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := ParseRoot(root.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckRoot(idx, m); err != nil {
		t.Fatalf("a root built from the manifest does not check: %v", err)
	}
	extra := *idx
	extra.Manifests = append(append([]ocispec.Descriptor{}, idx.Manifests...), ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("x"), Size: 1,
		Annotations: map[string]string{AnnotationRole: RoleImage, AnnotationRepository: "evil/x"}})
	if err := CheckRoot(&extra, m); !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "evil/x") {
		t.Errorf("extra image: %v", err)
	}
	missing := *idx
	missing.Manifests = idx.Manifests[:1]
	if err := CheckRoot(&missing, m); !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "does not list") {
		t.Errorf("missing image: %v", err)
	}
	m2 := validManifest()
	m2.MirrorGeneration = 2
	if err := CheckRoot(idx, m2); !errors.Is(err, errdef.ErrMalformed) {
		t.Errorf("generation annotation: %v", err)
	}
}

func TestChecksums(t *testing.T) {
	sums := []Checksum{{Path: "b", Digest: digest.FromString("b")}, {Path: "a/x", Digest: digest.FromString("a")}}
	data := FormatChecksums(sums)
	if !strings.HasPrefix(string(data), digest.FromString("a").Encoded()+"  a/x\n") {
		t.Errorf("not sorted: %s", data)
	}
	got, err := ParseChecksums(data)
	if err != nil || len(got) != 2 {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"xyz  a\n", hexDigest + " a\n", hexDigest + "  ../a\n", hexDigest + "  a\n" + hexDigest + "  a\n"} {
		if _, err := ParseChecksums([]byte(bad)); !errors.Is(err, errdef.ErrMalformed) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

func TestVerifyReader(t *testing.T) {
	content := []byte("hello, air gap")
	desc := ocispec.Descriptor{Digest: digest.FromBytes(content), Size: int64(len(content))}
	if got, err := io.ReadAll(NewVerifyReader(bytes.NewReader(content), desc)); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("good content: %v", err)
	}
	for name, data := range map[string][]byte{
		"flipped": append([]byte("H"), content[1:]...),
		"short":   content[:5],
		"long":    append(append([]byte{}, content...), '!'),
	} {
		n, err := io.Copy(io.Discard, NewVerifyReader(bytes.NewReader(data), desc))
		if !errors.Is(err, errdef.ErrDigestMismatch) || !strings.Contains(err.Error(), desc.Digest.String()) {
			t.Errorf("%s: err = %v", name, err)
		}
		if n > desc.Size {
			t.Errorf("%s: passed %d bytes, more than the size", name, n)
		}
	}
	if _, err := ReadAll(bytes.NewReader(content), ocispec.Descriptor{Digest: desc.Digest, Size: MaxManifestSize + 1}, MaxManifestSize); !errors.Is(err, errdef.ErrMalformed) {
		t.Errorf("oversized: %v", err)
	}
}

func FuzzParseManifest(f *testing.F) {
	data, _ := validManifest().Marshal()
	f.Add(data)
	f.Add([]byte("{}"))
	// Referrers with cosign tags: of the image, and of a referrer.
	withTags := validManifest()
	sbom := Referrer{Digest: digest.FromString("sbom"), MediaType: ocispec.MediaTypeImageManifest, Size: 10, Subject: withTags.Images[0].Digest}
	sbomSig := Referrer{Digest: digest.FromString("sbom sig"), MediaType: ocispec.MediaTypeImageManifest, Size: 10, Subject: sbom.Digest, Tag: CosignTag(sbom.Digest, ".sig")}
	withTags.Images[0].Referrers = []Referrer{tagged(CosignTag(withTags.Images[0].Digest, ".sig")), sbom, sbomSig}
	data, _ = withTags.Marshal()
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			if !errors.Is(err, errdef.ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("parsed manifest does not validate: %v", err)
		}
	})
}

// TestManifestMustBeCanonical: manifest.json is the signed statement, and
// it is canonical JSON (DESIGN.md) as create writes it. Any other spelling
// of it is refused, so that every reader of the signed bytes reads one
// statement: encoding/json takes the last of a key given twice, and
// matches "Digest" to the digest field, where jq or a reviewer's eye sees
// the first, or two different keys.
func TestManifestMustBeCanonical(t *testing.T) {
	data, err := validManifest().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	evil := "sha256:" + strings.Repeat("e", 64)
	for name, bad := range map[string]string{
		"key given twice":      strings.Replace(s, `"channel": "stable"`, `"channel": "stable", "channel": "edge"`, 1),
		"key in another case":  strings.Replace(s, `"digest": "sha256:`, `"Digest": "`+evil+`", "digest": "sha256:`, 1),
		"other case, alone":    strings.Replace(s, `"channel": "stable"`, `"Channel": "stable"`, 1),
		"compact":              strings.ReplaceAll(strings.ReplaceAll(s, "\n", ""), "  ", ""),
		"no trailing newline":  strings.TrimSuffix(s, "\n"),
		"two trailing newline": s + "\n",
		"keys out of order":    reorder(t, s),
		"escaped character":    strings.Replace(s, `"stable"`, `"st\u0061ble"`, 1),
		"byte order mark":      "\ufeff" + s,
	} {
		t.Run(name, func(t *testing.T) {
			if bad == s {
				t.Fatal("mutation changed nothing")
			}
			if _, err := ParseManifest([]byte(bad)); !errors.Is(err, errdef.ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

// reorder moves manifest.json's first top-level key to the end.
func reorder(t *testing.T, s string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(s, "\n}\n"), "\n")
	// lines[0] is "{"; the first key is "advisories", an array up to "  ],".
	end := slices.Index(lines, "  ],")
	if end < 0 {
		t.Fatalf("no end of the first key in %s", s)
	}
	first := append([]string{}, lines[1:end+1]...)
	first[len(first)-1] = "  ]"
	rest := lines[end+1:]
	rest[len(rest)-1] += ","
	return strings.Join(append(append([]string{"{"}, rest...), first...), "\n") + "\n}\n"
}

// TestDecodeCanonical: the signed side documents (catalog, inventory,
// volume list) are read as manifest.json is: only in the canonical form
// they are written in, so that a key given twice or in another case cannot
// read one way to stella and another to jq.
func TestDecodeCanonical(t *testing.T) {
	type doc struct {
		Name string `json:"name"`
		Size int64  `json:"size"`
	}
	good, err := Canonical(doc{Name: "a", Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	var d doc
	if err := DecodeCanonical(good, &d); err != nil || d.Name != "a" {
		t.Fatalf("canonical: %v %+v", err, d)
	}
	for name, bad := range map[string]string{
		"key given twice":     strings.Replace(string(good), `"name": "a"`, `"name": "a", "name": "b"`, 1),
		"key in another case": strings.Replace(string(good), `"name": "a"`, `"Name": "b", "name": "a"`, 1),
		"unknown key":         strings.Replace(string(good), `"name": "a"`, `"extra": 1, "name": "a"`, 1),
		"compact":             `{"name":"a","size":1}` + "\n",
		"trailing data":       string(good) + "{}",
	} {
		t.Run(name, func(t *testing.T) {
			if err := DecodeCanonical([]byte(bad), new(doc)); !errors.Is(err, errdef.ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}
