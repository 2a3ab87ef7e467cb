// Package release reads the release files that say which images make up a
// StellaOps release: the deploy/releases/<version>-<channel>.yaml shape
// (release.version, release.channel, release.components[].{name,image},
// release.infrastructure.<name>.image) or a plain list of references, one a
// line. Errors name the file and line at fault.
package release

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/errdef"
)

// MaxFileSize bounds a release file: a release names hundreds of images, not
// millions.
const MaxFileSize = 4 << 20

// Release is a parsed release file.
type Release struct {
	// Version and Channel come from release.version and release.channel; a
	// plain list has neither.
	Version string
	Channel string
	Images  []Image
}

// Image is one image a release names.
type Image struct {
	// Name is the component or infrastructure name; for a plain list, the
	// last segment of the repository.
	Name string
	// Ref is the parsed reference.
	Ref bundle.ImageRef
	// Line is the 1-based line of the reference in the file.
	Line int
}

// Where names img as the release file at path gives it, as errors about
// the image start: "image REF (FILE:LINE)".
func (img Image) Where(path string) string {
	return fmt.Sprintf("image %s (%s:%d)", img.Ref, path, img.Line)
}

// Unpinned returns the images whose reference has no digest.
func (r *Release) Unpinned() []Image {
	var out []Image
	for _, img := range r.Images {
		if img.Ref.Digest == "" {
			out = append(out, img)
		}
	}
	return out
}

var yamlKeyLine = regexp.MustCompile(`^(---|[A-Za-z_][\w-]*:(\s|$))`)

// Parse reads a release file. name is used in error messages. Every error
// wraps errdef.ErrMalformed and names the file and line.
func Parse(name string, data []byte) (*Release, error) {
	// A byte order mark, as Windows editors write one, is no content.
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: %d bytes exceeds the %d byte limit: %w", name, len(data), MaxFileSize, errdef.ErrMalformed)
	}
	if isYAML(data) {
		return parseYAML(name, data)
	}
	return parseList(name, data)
}

func isYAML(data []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), MaxFileSize)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		return yamlKeyLine.MatchString(line)
	}
	return false
}

// listComment is a plain list's comment: a # at the start of a line or
// after a blank, as in YAML and the shell. A # within a reference is
// part of it (a password's, user:p#ss@HOST/…, refused whole), not the
// start of a comment that would leave user:p to be read as an image.
var listComment = regexp.MustCompile(`(^|[ \t])#.*$`)

func parseList(name string, data []byte) (*Release, error) {
	rel := &Release{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), MaxFileSize)
	for n := 1; sc.Scan(); n++ {
		line := listComment.ReplaceAllString(sc.Text(), "")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		ref, err := parseRef(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v: %w", name, n, err, errdef.ErrMalformed)
		}
		rel.Images = append(rel.Images, Image{Name: path.Base(ref.Repository), Ref: ref, Line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v: %w", name, err, errdef.ErrMalformed)
	}
	if len(rel.Images) == 0 {
		return nil, fmt.Errorf("%s: no image references: %w", name, errdef.ErrMalformed)
	}
	return rel, nil
}

func parseYAML(name string, data []byte) (*Release, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// yaml.v3 errors already say "yaml: line N: ...".
		return nil, fmt.Errorf("%s: %v: %w", name, err, errdef.ErrMalformed)
	}
	bad := func(n *yaml.Node, format string, args ...any) error {
		line := 0
		if n != nil {
			line = n.Line
		}
		return fmt.Errorf("%s:%d: "+format+": %w", append([]any{name, line}, append(args, errdef.ErrMalformed)...)...)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, bad(&doc, "not a mapping with a top-level \"release\" key")
	}
	// yaml.v3 checks for duplicate keys only when it decodes into a map or
	// struct, not into a Node. A key given twice would be read here first
	// wins, by most other tools last wins: refuse it.
	if dup, first := duplicateKey(doc.Content[0]); dup != nil {
		return nil, bad(dup, "key %q given twice (first at line %d)", dup.Value, first.Line)
	}
	relNode := mapValue(doc.Content[0], "release")
	if relNode == nil || relNode.Kind != yaml.MappingNode {
		return nil, bad(doc.Content[0], "no \"release\" mapping")
	}
	rel := &Release{}
	var err error
	if rel.Version, err = scalar(relNode, "version", true); err != nil {
		return nil, bad(relNode, "release.version: %v", err)
	}
	if !bundle.ValidTag(rel.Version) {
		return nil, bad(mapValue(relNode, "version"), "release.version %q is not a valid tag", rel.Version)
	}
	if rel.Channel, err = scalar(relNode, "channel", false); err != nil {
		return nil, bad(relNode, "release.channel: %v", err)
	}
	// Refused here, before any image is pulled, as the bundle would be.
	if err := bundle.Printable(rel.Channel); err != nil {
		return nil, bad(mapValue(relNode, "channel"), "release.channel: %v", err)
	}
	if err := CheckBundleID(rel.Version, rel.Channel); err != nil {
		at := mapValue(relNode, "channel")
		if at == nil {
			at = mapValue(relNode, "version")
		}
		return nil, bad(at, "release: %v", err)
	}
	if comps := mapValue(relNode, "components"); comps != nil {
		if comps.Kind != yaml.SequenceNode {
			return nil, bad(comps, "release.components is not a list")
		}
		for i, c := range comps.Content {
			img, err := parseEntry(c, fmt.Sprintf("release.components[%d]", i), "")
			if err != nil {
				return nil, bad(img.node, "%v", err)
			}
			rel.Images = append(rel.Images, img.Image)
		}
	}
	if infra := mapValue(relNode, "infrastructure"); infra != nil {
		if infra.Kind != yaml.MappingNode {
			return nil, bad(infra, "release.infrastructure is not a mapping")
		}
		type kv struct{ key, val *yaml.Node }
		var entries []kv
		for i := 0; i+1 < len(infra.Content); i += 2 {
			entries = append(entries, kv{infra.Content[i], infra.Content[i+1]})
		}
		sort.SliceStable(entries, func(i, j int) bool { return entries[i].key.Line < entries[j].key.Line })
		for _, e := range entries {
			img, err := parseEntry(e.val, "release.infrastructure."+e.key.Value, e.key.Value)
			if err != nil {
				return nil, bad(img.node, "%v", err)
			}
			rel.Images = append(rel.Images, img.Image)
		}
	}
	if len(rel.Images) == 0 {
		return nil, bad(relNode, "release names no images (release.components, release.infrastructure)")
	}
	// Other keys are let be (date:, charts:), but not one holding images
	// (componets:): its images would be left out without a word.
	for i := 0; i+1 < len(relNode.Content); i += 2 {
		key, val := relNode.Content[i], relNode.Content[i+1]
		if key.Value != "components" && key.Value != "infrastructure" && holdsImages(val) {
			return nil, bad(key, "release.%s holds images, but only release.components and release.infrastructure are read", key.Value)
		}
	}
	return rel, nil
}

// holdsImages reports whether n is a list or mapping of entries with an
// image key, as release.components and release.infrastructure are.
func holdsImages(n *yaml.Node) bool {
	switch n.Kind {
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if c.Kind == yaml.MappingNode && mapValue(c, "image") != nil {
				return true
			}
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			if c := n.Content[i]; c.Kind == yaml.MappingNode && mapValue(c, "image") != nil {
				return true
			}
		}
	}
	return false
}

// CheckBundleID refuses a release version and channel that make no valid
// bundle id (version-channel-<12 hex>: letters, digits, '.', '_', ':' and
// '-', at most 128 characters): create would refuse the manifest.json it
// made, after every blob was fetched.
func CheckBundleID(version, channel string) error {
	id := version
	if channel != "" {
		id += "-" + channel
	}
	if !bundle.ValidBundleID(id + "-000000000000") {
		return fmt.Errorf("version %q and channel %q make no valid bundle id (%s-<12 hex digits>: letters, digits, '.', '_', ':' and '-', first a letter or digit, at most 128 characters)", version, channel, id)
	}
	return nil
}

type entry struct {
	Image
	node *yaml.Node
}

func parseEntry(n *yaml.Node, where, defaultName string) (entry, error) {
	e := entry{node: n}
	if n.Kind != yaml.MappingNode {
		return e, fmt.Errorf("%s is not a mapping", where)
	}
	name, err := scalar(n, "name", defaultName == "")
	if err != nil {
		return e, fmt.Errorf("%s.name: %v", where, err)
	}
	if name == "" {
		name = defaultName
	}
	if err := bundle.Printable(name); err != nil {
		return e, fmt.Errorf("%s.name: %v", where, err)
	}
	refNode := mapValue(n, "image")
	if refNode == nil {
		return e, fmt.Errorf("%s (%s): no image", where, name)
	}
	e.node = refNode
	if refNode.Kind != yaml.ScalarNode {
		return e, fmt.Errorf("%s.image is not a string", where)
	}
	ref, err := parseRef(refNode.Value)
	if err != nil {
		return e, fmt.Errorf("%s.image: %v", where, err)
	}
	e.Image = Image{Name: name, Ref: ref, Line: refNode.Line}
	return e, nil
}

// parseRef parses an image reference of the release. Its tag may not be
// one of a digest's artifact tags (bundle.ReservedTag): import writes the
// tag, and would replace the referrers index of a digest by the image,
// taking its SBOM and signatures from readers, or pose as a signature.
func parseRef(s string) (bundle.ImageRef, error) {
	ref, err := bundle.ParseImageRef(s)
	if err == nil && bundle.ReservedTag(ref.Tag) {
		return ref, fmt.Errorf("reference %q: tag %q is the form a registry and cosign keep for a digest's referrers and signatures, not an image's tag", s, ref.Tag)
	}
	return ref, err
}

// duplicateKey returns the second occurrence of a key given twice in any
// mapping under n, and the first.
func duplicateKey(n *yaml.Node) (dup, first *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		seen := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.ScalarNode {
				if prev, ok := seen[k.Value]; ok {
					return k, prev
				}
				seen[k.Value] = k
			}
		}
	}
	for _, c := range n.Content {
		if dup, first := duplicateKey(c); dup != nil {
			return dup, first
		}
	}
	return nil, nil
}

// mapValue returns the value node of key in mapping m, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func scalar(m *yaml.Node, key string, required bool) (string, error) {
	v := mapValue(m, key)
	if v == nil {
		if required {
			return "", fmt.Errorf("missing")
		}
		return "", nil
	}
	if v.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("not a string")
	}
	if v.Tag == "!!null" {
		return "", nil // channel: ~ is no channel, not the string "~"
	}
	return v.Value, nil
}
