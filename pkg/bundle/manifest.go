package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/errdef"
)

// SchemaVersion is the manifest.json schemaVersion this package writes and
// reads; ParseManifest refuses a newer one as errdef.ErrNewerFormat.
const SchemaVersion = 1

// Manifest is manifest.json, the signed statement of a bundle: everything the
// bundle carries is named in it by digest, so a signature over its exact bytes
// covers the whole bundle.
type Manifest struct {
	SchemaVersion int     `json:"schemaVersion"`
	BundleID      string  `json:"bundleId"`
	Release       Release `json:"release"`
	// MirrorGeneration is monotonic per bundle repository: import refuses one
	// that is older than what the target already holds.
	MirrorGeneration int64     `json:"mirrorGeneration"`
	CreatedAt        time.Time `json:"createdAt"`
	ExpiresAt        time.Time `json:"expiresAt"`
	Producer         Producer  `json:"producer"`
	// Base is set on delta bundles: the bundle whose blobs this one omits.
	Base       *Base   `json:"base,omitempty"`
	Images     []Image `json:"images"`
	Advisories []File  `json:"advisories"`
	Files      []File  `json:"files"`
}

// Release names the release a bundle carries.
type Release struct {
	Version string `json:"version"`
	Channel string `json:"channel,omitempty"`
}

// Producer names the tool that wrote a bundle.
type Producer struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Base identifies the bundle a delta bundle builds on, and the blobs the
// delta names but does not carry because the base (or the target that
// imported it) already holds them.
type Base struct {
	BundleID   string        `json:"bundleId"`
	Root       digest.Digest `json:"root"`
	Generation int64         `json:"generation"`
	// Omitted lists, sorted, the blobs (configs, layers, advisories,
	// files) this bundle does not carry. Import checks each is in the
	// target before it writes anything.
	Omitted []digest.Digest `json:"omitted"`
}

// OmittedSet returns the omitted blobs as a set (empty for a full bundle).
func (m *Manifest) OmittedSet() map[digest.Digest]bool {
	set := map[digest.Digest]bool{}
	if m.Base != nil {
		for _, d := range m.Base.Omitted {
			set[d] = true
		}
	}
	return set
}

// HumanView returns every file of the bundle's human view: the
// advisories, then the other files (scripts, docs), in a new slice.
func (m *Manifest) HumanView() []File {
	return append(append([]File{}, m.Advisories...), m.Files...)
}

// Image is one image of the release, kept byte for byte under its original
// digest.
type Image struct {
	// Name is the component name from the release file.
	Name string `json:"name"`
	// Source is the reference the image was pulled from, as written.
	Source string `json:"source"`
	// Repository is the target repository, the source path without its host
	// (the plan's load.sh rule); import prefixes it with the target registry.
	Repository string `json:"repository"`
	// Tags are the tags import writes: the release version, and the source
	// tag when the reference had one.
	Tags      []string      `json:"tags"`
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType"`
	Size      int64         `json:"size"`
	Platforms []string      `json:"platforms,omitempty"`
	// Referrers are the manifests attached to the image in its source
	// repository (signatures, SBOMs, attestations), carried with it.
	Referrers []Referrer `json:"referrers,omitempty"`
}

// Referrer is a manifest whose subject is an image (or another referrer).
type Referrer struct {
	Digest       digest.Digest `json:"digest"`
	MediaType    string        `json:"mediaType"`
	ArtifactType string        `json:"artifactType,omitempty"`
	Size         int64         `json:"size"`
	Subject      digest.Digest `json:"subject"`
	// Tag is set when the manifest is attached by cosign's tag scheme, not
	// by a subject field: the tag (CosignTag of Subject) that names it in
	// the image's repository, which import writes beside the image's own.
	Tag string `json:"tag,omitempty"`
}

// CosignTagSuffixes end the tags cosign's default (tag) scheme gives a
// signed digest's signatures, attestations and attached SBOMs.
var CosignTagSuffixes = []string{".sig", ".att", ".sbom"}

// CosignTag is the tag cosign's tag scheme gives dg's artifacts of one
// kind: sha256-<hex>.sig for its signatures.
func CosignTag(dg digest.Digest, suffix string) string {
	return dg.Algorithm().String() + "-" + dg.Encoded() + suffix
}

// IsCosignTagOf reports whether tag is one of cosign's tags for dg.
func IsCosignTagOf(tag string, dg digest.Digest) bool {
	for _, s := range CosignTagSuffixes {
		if tag == CosignTag(dg, s) {
			return true
		}
	}
	return false
}

// File is an advisory, script or document carried as a layer of the metadata
// manifest and under its path in a bundle directory.
type File struct {
	Path      string        `json:"path"`
	Source    string        `json:"source"`
	Digest    digest.Digest `json:"digest"`
	Size      int64         `json:"size"`
	MediaType string        `json:"mediaType"`
}

// Marshal returns the canonical bytes of m: the bytes that are signed.
func (m *Manifest) Marshal() ([]byte, error) {
	return Canonical(m)
}

// ParseManifest decodes and validates manifest.json. It refuses unknown fields,
// trailing data, every field that breaks the format, and any spelling other
// than the canonical one Marshal writes, wrapping errdef.ErrMalformed with
// the field at fault. manifest.json is the signed statement: encoding/json
// takes the last of a key given twice and matches keys case-insensitively,
// where another reader of the same signed bytes (jq, a reviewer before
// signing) may see the first, or two keys; one spelling leaves no room
// for two readings.
func ParseManifest(data []byte) (*Manifest, error) {
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("manifest.json: %d bytes exceeds the %d byte limit: %w", len(data), MaxManifestSize, errdef.ErrMalformed)
	}
	if err := CheckSchemaVersion("manifest.json", data, SchemaVersion); err != nil {
		return nil, err
	}
	// Decoded in place (a json.Decoder would copy data into a buffer it
	// grows): an unknown field, a key given twice or in another case and
	// trailing data all fail the canonical form below, and only then is
	// data decoded strictly, to name the field at fault.
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("manifest.json: %v: %w", err, errdef.ErrMalformed)
	}
	// Compared as it is made: the canonical form of the largest
	// manifest.json is never held beside it.
	at, err := canonicalDifference(&m, data)
	if err != nil {
		return nil, fmt.Errorf("manifest.json: %v: %w", err, errdef.ErrMalformed)
	}
	if at >= 0 {
		if err := decodeStrict(data, new(Manifest)); err != nil {
			return nil, fmt.Errorf("manifest.json: %v: %w", err, errdef.ErrMalformed)
		}
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if at >= 0 {
		return nil, fmt.Errorf("manifest.json: not in canonical form (each key once, in its exact case, sorted, 2-space indent, one trailing newline: as create writes it) at byte %d: %w",
			at, errdef.ErrMalformed)
	}
	return &m, nil
}

// decodeStrict decodes data into v refusing unknown fields and trailing
// data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// firstDifference returns the offset of the first byte where a and b differ.
func firstDifference(a, b []byte) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

var (
	bundleIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
	// tagPattern is the distribution-spec tag grammar.
	tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
	// repositoryPattern is the distribution-spec repository name grammar.
	repositoryPattern = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)*$`)
)

// ValidTag reports whether s is a valid OCI tag.
func ValidTag(s string) bool { return tagPattern.MatchString(s) }

// reservedTagPattern matches the tags a registry and cosign give a
// digest's artifacts: sha256-<hex>, the referrers API's fallback index,
// and sha256-<hex>.sig, .att, .sbom, cosign's tag scheme.
var reservedTagPattern = regexp.MustCompile(`^sha256-[0-9a-f]{64}($|\.)`)

// ReservedTag reports whether tag is one of a digest's artifact tags: an
// image tagged so by a release would have import replace that digest's
// referrers index, or pose as its signature.
func ReservedTag(tag string) bool { return reservedTagPattern.MatchString(tag) }

// AdvisoryRecordName is the file in which import records, in
// --advisories-dir, the advisories it wrote there. No bundle carries an
// advisory of that name: import would write its record over it.
const AdvisoryRecordName = ".stella-advisories.json"

// ValidBundleID reports whether id is a valid bundle id.
func ValidBundleID(id string) bool { return bundleIDPattern.MatchString(id) }

// ValidRepository reports whether s is a valid OCI repository name.
func ValidRepository(s string) bool { return len(s) <= 255 && repositoryPattern.MatchString(s) }

// Validate checks every field of m against the format's rules.
func (m *Manifest) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("manifest.json: "+format+": %w", append(args, errdef.ErrMalformed)...)
	}
	if m.SchemaVersion != SchemaVersion {
		return bad("schemaVersion %d is not %d", m.SchemaVersion, SchemaVersion)
	}
	if !bundleIDPattern.MatchString(m.BundleID) {
		return bad("bundleId %q is not valid", m.BundleID)
	}
	if !ValidTag(m.Release.Version) {
		return bad("release.version %q is not a valid tag", m.Release.Version)
	}
	// create never writes one (checkCreateInputs): the bundle's tag so
	// named would replace, where it is placed, the referrers index of
	// that digest, or pose as its signature.
	if ReservedTag(m.Release.Version) {
		return bad("release.version %q is the form a registry and cosign keep for a digest's referrers and signatures, not a release's", m.Release.Version)
	}
	if m.MirrorGeneration < 1 {
		return bad("mirrorGeneration %d is not positive", m.MirrorGeneration)
	}
	for _, f := range []struct{ name, value string }{
		{"release.channel", m.Release.Channel}, {"producer.name", m.Producer.Name}, {"producer.version", m.Producer.Version},
	} {
		if err := Printable(f.value); err != nil {
			return bad("%s: %v", f.name, err)
		}
	}
	if m.CreatedAt.IsZero() || m.ExpiresAt.IsZero() || !m.ExpiresAt.After(m.CreatedAt) {
		return bad("expiresAt %s is not after createdAt %s", m.ExpiresAt.Format(time.RFC3339), m.CreatedAt.Format(time.RFC3339))
	}
	if m.Base != nil {
		if err := validDigest(m.Base.Root); err != nil {
			return bad("base.root: %v", err)
		}
		if err := Printable(m.Base.BundleID); err != nil {
			return bad("base.bundleId: %v", err)
		}
		if m.Base.Generation >= m.MirrorGeneration {
			return bad("base.generation %d is not older than mirrorGeneration %d", m.Base.Generation, m.MirrorGeneration)
		}
		for i, d := range m.Base.Omitted {
			if err := validDigest(d); err != nil {
				return bad("base.omitted[%d]: %v", i, err)
			}
			if i > 0 && m.Base.Omitted[i-1] >= d {
				return bad("base.omitted is not sorted and unique at %s", d)
			}
		}
	}
	if len(m.Images) > MaxReadImages {
		return bad("%d images exceeds the limit of %d", len(m.Images), MaxReadImages)
	}
	seenImage := map[string]bool{}
	for i, img := range m.Images {
		if err := img.validate(); err != nil {
			return bad("images[%d]: %v", i, err)
		}
		key := img.Repository + "@" + img.Digest.String()
		if seenImage[key] {
			return bad("images[%d]: %s listed twice", i, key)
		}
		seenImage[key] = true
	}
	if err := m.checkTagsUnique(); err != nil {
		return bad("%v", err)
	}
	seenPath := map[string]bool{}
	for i, f := range m.Advisories {
		if err := f.validate("advisories/"); err != nil {
			return bad("advisories[%d]: %v", i, err)
		}
		if f.Path == "advisories/"+AdvisoryRecordName {
			return bad("advisories[%d]: path %q is the record import keeps in --advisories-dir, not an advisory", i, f.Path)
		}
		if seenPath[f.Path] {
			return bad("advisories[%d]: path %q listed twice", i, f.Path)
		}
		seenPath[f.Path] = true
	}
	for i, f := range m.Files {
		if err := f.validate("scripts/", "docs/"); err != nil {
			return bad("files[%d]: %v", i, err)
		}
		if seenPath[f.Path] {
			return bad("files[%d]: path %q listed twice", i, f.Path)
		}
		seenPath[f.Path] = true
	}
	return nil
}

func (img *Image) validate() error {
	if err := Printable(img.Name); err != nil {
		return fmt.Errorf("name: %v", err)
	}
	for _, p := range img.Platforms {
		if err := Printable(p); err != nil {
			return fmt.Errorf("platform: %v", err)
		}
	}
	if _, err := ParseImageRef(img.Source); err != nil {
		return fmt.Errorf("source: %v", err)
	}
	if !ValidRepository(img.Repository) {
		return fmt.Errorf("repository %q is not a valid repository name", img.Repository)
	}
	for _, t := range img.Tags {
		if !ValidTag(t) {
			return fmt.Errorf("tag %q is not valid", t)
		}
		// As the release's version: a release file never gives one
		// (release.parseRef), and the image tagged so would replace the
		// referrers index of that digest, or pose as its signature.
		if ReservedTag(t) {
			return fmt.Errorf("tag %q is the form a registry and cosign keep for a digest's referrers and signatures, not an image's tag", t)
		}
	}
	if err := validDigest(img.Digest); err != nil {
		return err
	}
	if !IsManifestMediaType(img.MediaType) {
		return fmt.Errorf("%s: media type %q is not an image manifest or index", img.Digest, img.MediaType)
	}
	if img.Size <= 0 || img.Size > MaxManifestSize {
		return fmt.Errorf("%s: size %d out of range", img.Digest, img.Size)
	}
	seenTag := map[string]bool{}
	for _, r := range img.Referrers {
		if err := validDigest(r.Digest); err != nil {
			return fmt.Errorf("referrer: %v", err)
		}
		if err := validDigest(r.Subject); err != nil {
			return fmt.Errorf("referrer %s: subject: %v", r.Digest, err)
		}
		if !IsManifestMediaType(r.MediaType) {
			return fmt.Errorf("referrer %s: media type %q is not a manifest", r.Digest, r.MediaType)
		}
		if err := Printable(r.ArtifactType); err != nil {
			return fmt.Errorf("referrer %s: artifactType: %v", r.Digest, err)
		}
		if r.Size <= 0 || r.Size > MaxManifestSize {
			return fmt.Errorf("referrer %s: size %d out of range", r.Digest, r.Size)
		}
		// A tag may only be cosign's for the referrer's own subject: import
		// writes it into the image's repository, where any other name
		// could move a tag the far side relies on.
		if r.Tag != "" && !IsCosignTagOf(r.Tag, r.Subject) {
			return fmt.Errorf("referrer %s: tag %q is not cosign's tag for its subject %s", r.Digest, r.Tag, r.Subject)
		}
		// One tag names one manifest: import would write it twice, the
		// last one winning, and serve could serve neither.
		if r.Tag != "" && seenTag[r.Tag] {
			return fmt.Errorf("referrer %s: tag %q listed twice", r.Digest, r.Tag)
		}
		seenTag[r.Tag] = true
	}
	return nil
}

func (f *File) validate(prefixes ...string) error {
	if err := ValidPath(f.Path); err != nil {
		return err
	}
	ok := false
	for _, p := range prefixes {
		ok = ok || strings.HasPrefix(f.Path, p)
	}
	if !ok {
		return fmt.Errorf("path %q is not under %s", f.Path, strings.Join(prefixes, " or "))
	}
	if err := validDigest(f.Digest); err != nil {
		return fmt.Errorf("%s: %v", f.Path, err)
	}
	if f.Size < 0 {
		return fmt.Errorf("%s: negative size", f.Path)
	}
	if f.MediaType == "" {
		return fmt.Errorf("%s: empty media type", f.Path)
	}
	if err := Printable(f.MediaType); err != nil {
		return fmt.Errorf("%s: media type: %v", f.Path, err)
	}
	if err := Printable(f.Source); err != nil {
		return fmt.Errorf("%s: source: %v", f.Path, err)
	}
	return nil
}

// Printable refuses a free-text field that holds anything but printable
// characters and the ASCII space. Such fields (names, channel, sources,
// platforms) are printed as they are by inspect, create and verify: a
// control character, terminal escape, newline or bidirectional override
// from a hostile bundle would rewrite the operator's screen or print a
// line of its own (a fake "Verified").
func Printable(s string) error {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%q holds a control or formatting character", s)
		}
	}
	return nil
}

// ValidPath checks that p is a clean, relative, slash-separated path that
// stays inside the directory it is joined to: no "..", no absolute path, no
// empty or dot segments, no backslashes or control characters.
func ValidPath(p string) error {
	if p == "" || len(p) > 1024 {
		return fmt.Errorf("path %q has a bad length", p)
	}
	if !utf8.ValidString(p) {
		// JSON would carry U+FFFD in its place: manifest.json would name
		// a file that is not there.
		return fmt.Errorf("path %q is not UTF-8", p)
	}
	if path.IsAbs(p) || path.Clean(p) != p || p == "." || strings.HasPrefix(p, "../") || p == ".." {
		return fmt.Errorf("path %q is not a clean relative path", p)
	}
	for _, r := range p {
		if r == '\\' || r == ':' {
			return fmt.Errorf("path %q has a forbidden character", p)
		}
	}
	// Paths are printed by inspect, create and import, as the free-text
	// fields are (Printable): a C1 control (U+009B is a terminal's CSI) or a
	// bidirectional override in a file name would rewrite the screen. A
	// space of another script (U+3000, a Japanese keyboard's; U+00A0) is a
	// file name's, and prints as one.
	for _, r := range p {
		if !unicode.IsPrint(r) && !unicode.Is(unicode.Zs, r) {
			return fmt.Errorf("path %q holds a control or formatting character", p)
		}
	}
	return nil
}

// validDigest checks d: valid first, since go-digest's Algorithm and
// Encoded panic on a digest without a colon (hostile input).
func validDigest(d digest.Digest) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("digest %q: %v", d, err)
	}
	if d.Algorithm() != digest.SHA256 {
		return fmt.Errorf("digest %q is not sha256", d)
	}
	return nil
}
