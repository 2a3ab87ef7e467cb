package release

import (
	"errors"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
)

// Release files as people write them by mistake (found by review). Each is
// read as meant, or refused up front naming the file, the line and what
// is wrong, not taken without a word:
//   - a byte order mark (Windows editors) made the YAML a plain list;
//   - channel: ~ or null was the string "~" or "null" in the bundle id;
//   - a channel the bundle id cannot hold ("beta/1") was refused only once
//     every blob was fetched, as a malformed manifest.json;
//   - a misspelt components: key left its images out;
//   - a tag of a digest's referrers (sha256-<hex>) or cosign signature
//     (sha256-<hex>.sig) was carried as an image's tag, which import then
//     wrote over the image's referrers index.
func TestReleaseFileMistakes(t *testing.T) {
	yamlWith := func(channel, comps string) string {
		return "release:\n  version: \"2025.10.0\"\n  channel: " + channel + "\n  " + comps + ":\n    - name: a\n      image: r.example/a@" + dg + "\n"
	}
	fallback := "sha256-" + strings.TrimPrefix(dg, "sha256:")
	for _, tt := range []struct {
		name, data string
		channel    string // read as, if no error is wanted
		refused    string // the error holds it
	}{
		{name: "byte order mark", data: "\ufeff" + yamlWith("stable", "components"), channel: "stable"},
		{name: "byte order mark, list", data: "\ufeffr.example/a:1@" + dg + "\n"},
		{name: "channel ~", data: yamlWith("~", "components")},
		{name: "channel null", data: yamlWith("null", "components")},
		{name: "channel quoted null", data: yamlWith(`"null"`, "components"), channel: "null"},
		{name: "channel no bundle id holds", data: yamlWith(`"beta/1"`, "components"), refused: `r.yaml:3: release: version "2025.10.0" and channel "beta/1" make no valid bundle id`},
		{name: "misspelt components", data: yamlWith("stable", "componets") + "  infrastructure:\n    v:\n      image: r.example/v@" + dg + "\n", refused: "r.yaml:4: release.componets holds images"},
		{name: "fallback tag", data: yamlWith("stable", "components") + "    - name: b\n      image: r.example/b:" + fallback + "@" + dg + "\n", refused: `tag "` + fallback + `" is the form a registry and cosign keep`},
		{name: "cosign tag, list", data: "r.example/b:" + fallback + ".sig@" + dg + "\n", refused: "r.yaml:1: reference"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rel, err := Parse("r.yaml", []byte(tt.data))
			if tt.refused != "" {
				if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), tt.refused) {
					t.Fatalf("Parse: %v, want it refused saying %q", err, tt.refused)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if rel.Channel != tt.channel || len(rel.Images) != 1 {
				t.Errorf("read channel %q and %d images, want %q and 1", rel.Channel, len(rel.Images), tt.channel)
			}
		})
	}
}
