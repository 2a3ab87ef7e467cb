package mirror

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stellaops/mirror/pkg/errdef"
)

// platformMatch is a manifest of an index that --platform may take, with
// its platform and how well that fits the one asked for (platformFit).
type platformMatch struct {
	desc     ocispec.Descriptor
	platform ocispec.Platform
	fit      int
}

// spelledPlatform is p spelled as containerd's platforms.Normalize spells
// it (docker --platform takes the same names): the os and architecture in
// lower case, macos as darwin, uname -m's x86_64 (or x86-64) as amd64 and
// aarch64 as arm64, i386 as 386, Debian's armhf as arm/v7 and armel as
// arm/v6, an arm variant with its v (arm/7 is arm/v7), arm64/8 and v8.0
// as v8, arm64/9 as v9. Operators type these; an index may list them too,
// and containerd reads both alike.
func spelledPlatform(p ocispec.Platform) ocispec.Platform {
	p.OS, p.Architecture, p.Variant = strings.ToLower(p.OS), strings.ToLower(p.Architecture), strings.ToLower(p.Variant)
	if p.OS == "macos" {
		p.OS = "darwin"
	}
	switch p.Architecture {
	case "i386":
		p.Architecture, p.Variant = "386", ""
	case "x86_64", "x86-64":
		p.Architecture = "amd64"
	case "aarch64":
		p.Architecture = "arm64"
	case "armhf":
		p.Architecture, p.Variant = "arm", "v7"
	case "armel":
		p.Architecture, p.Variant = "arm", "v6"
	}
	switch {
	case p.Architecture == "arm" && slices.Contains([]string{"5", "6", "7", "8"}, p.Variant):
		p.Variant = "v" + p.Variant
	case p.Architecture == "arm64" && slices.Contains([]string{"8", "v8.0"}, p.Variant):
		p.Variant = "v8"
	case p.Architecture == "arm64" && slices.Contains([]string{"9", "9.0", "v9.0"}, p.Variant):
		p.Variant = "v9"
	}
	return p
}

// normalPlatform is p as spelledPlatform spells it, with its variant as
// containerd's platform matcher reads it: an arm entry or request naming
// none is arm v7 (linux/arm asks for v7), an arm64 one naming none is v8,
// and amd64/v1 is amd64.
func normalPlatform(p ocispec.Platform) ocispec.Platform {
	p = spelledPlatform(p)
	switch {
	case p.Architecture == "arm" && p.Variant == "":
		p.Variant = "v7"
	case p.Architecture == "arm64" && p.Variant == "":
		p.Variant = "v8"
	case p.Architecture == "amd64" && p.Variant == "v1":
		p.Variant = ""
	}
	return p
}

// variantVersion is the version a variant names ("v6" is 6), or 0.
func variantVersion(variant string) int {
	v, ok := strings.CutPrefix(variant, "v")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0
	}
	return n
}

// platformFit says how well a manifest of platform have fits want, both
// as normalPlatform reads them: 0 for its variant; for an arm request the
// distance down to a lower variant that runs where it does (v7, then v6,
// then v5), and likewise for an amd64 one naming its variant (v3, then
// v2, then v1, which plain amd64 is): containerd's order; 1 for any
// variant of a request naming none (amd64: v2 and v3 alike); -1 for none,
// a higher variant among them. The os and architecture must be want's (no
// other architecture stands in: arm64 hardware may not run arm, nor amd64
// take 386), and so must an os.version want names.
func platformFit(want, have ocispec.Platform) int {
	w, h := normalPlatform(want), normalPlatform(have)
	if h.OS != w.OS || h.Architecture != w.Architecture || (w.OSVersion != "" && h.OSVersion != w.OSVersion) {
		return -1
	}
	// amd64/v1 names its variant, though normalPlatform reads it as
	// amd64: a v1 machine may not run v2 code.
	named := spelledPlatform(want).Variant != ""
	switch {
	case h.Variant == w.Variant:
		return 0
	case w.Architecture == "arm":
		if wv, hv := variantVersion(w.Variant), variantVersion(h.Variant); hv >= 5 && hv < wv {
			return wv - hv
		}
	case w.Architecture == "amd64" && named:
		// Plain amd64 is v1; a variant naming no version (0) fits none.
		wv, hv := max(variantVersion(w.Variant), 1), variantVersion(h.Variant)
		if h.Variant == "" {
			hv = 1
		}
		if hv >= 1 && hv < wv {
			return wv - hv
		}
	case w.Variant == "":
		return 1
	}
	return -1
}

// pickPlatform takes the manifest of matches (each listed once) that fits
// want best, or refuses where none does or where several fit it equally
// well: taking the first would carry whichever the index names first.
// name is the index as the refusals call it.
func pickPlatform(matches []platformMatch, want string, wantOSVersion bool, name string) (ocispec.Descriptor, error) {
	if len(matches) == 0 {
		return ocispec.Descriptor{}, fmt.Errorf("%s has no manifest for platform %s: %w", name, want, errdef.ErrNotFound)
	}
	best := slices.MinFunc(matches, func(a, b platformMatch) int { return a.fit - b.fit }).fit
	var tied []platformMatch
	for _, m := range matches {
		if m.fit == best {
			tied = append(tied, m)
		}
	}
	if len(tied) == 1 {
		return tied[0].desc, nil
	}
	// A Windows image list holds one manifest of a platform for each
	// Windows release, told apart by os.version alone, and a container of
	// one does not run on another.
	var versions []string
	for _, m := range tied {
		if !slices.Contains(versions, m.platform.OSVersion) {
			versions = append(versions, m.platform.OSVersion)
		}
	}
	if !wantOSVersion && len(versions) > 1 {
		return ocispec.Descriptor{}, fmt.Errorf("%s has %d manifests for platform %s, of os.version %s: give --platform %s:OSVERSION, one of them: %w",
			name, len(versions), want, strings.Join(versions, ", "), want, errdef.ErrUsage)
	}
	names := make([]string, len(tied))
	same := true
	for i, m := range tied {
		names[i] = m.desc.Digest.String()
		same = same && samePlatform(normalPlatform(m.platform), normalPlatform(tied[0].platform))
	}
	// Nor may an index list two manifests of one platform that nothing
	// tells apart (arm64 and arm64/v8 are one).
	if same {
		return ocispec.Descriptor{}, fmt.Errorf("%s lists %d manifests of platform %s, %s, that nothing in it (os.version, variant) tells apart: pin the one to carry by its own digest in the release file, in place of the index's: %w",
			name, len(names), FormatPlatform(tied[0].platform), strings.Join(names, " and "), errdef.ErrUsage)
	}
	// Manifests of variants that fit want alike (linux/amd64 of amd64/v2
	// and amd64/v3): which to carry is the operator's to say.
	platforms := make([]string, len(tied))
	for i, m := range tied {
		platforms[i] = FormatPlatform(m.platform)
		names[i] += " (" + platforms[i] + ")"
	}
	return ocispec.Descriptor{}, fmt.Errorf("%s has %d manifests that fit platform %s equally well, %s: give --platform the one to carry, %s, or pin it by its own digest in the release file: %w",
		name, len(tied), want, strings.Join(names, " and "), strings.Join(platforms, " or "), errdef.ErrUsage)
}

// samePlatform says whether a and b name one platform, nothing in them
// (os.version, variant, os.features) telling them apart.
func samePlatform(a, b ocispec.Platform) bool {
	return a.OS == b.OS && a.Architecture == b.Architecture && a.Variant == b.Variant &&
		a.OSVersion == b.OSVersion && slices.Equal(a.OSFeatures, b.OSFeatures)
}
