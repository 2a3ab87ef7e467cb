package release

import (
	"errors"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
)

// A mapping key given twice in a release file was read first-wins (mapValue
// returns the first match on the yaml.Node tree, where yaml.v3 does no
// duplicate check), while yq, PyYAML and most tools a reviewer would use
// read it last-wins: the release that was reviewed and the one create
// bundles could name different digests. yaml.v3 itself refuses duplicate
// keys when decoding into a struct or map; Parse should refuse them too.
func TestDuplicateKeysRefused(t *testing.T) {
	const other = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	for name, data := range map[string]string{
		"image": `release:
  version: "2025.10.0"
  components:
    - name: authority
      image: registry.example/stellaops/authority@` + dg + `
      image: registry.example/stellaops/authority@` + other + `
`,
		"components": `release:
  version: "2025.10.0"
  components:
    - name: authority
      image: registry.example/stellaops/authority@` + dg + `
  components:
    - name: authority
      image: registry.example/stellaops/authority@` + other + `
`,
		"version": `release:
  version: "2025.10.0"
  version: "2025.11.0"
  components:
    - name: authority
      image: registry.example/stellaops/authority@` + dg + `
`,
		"release": `release:
  version: "2025.10.0"
  components:
    - name: authority
      image: registry.example/stellaops/authority@` + dg + `
release:
  version: "2025.10.0"
  components:
    - name: authority
      image: registry.example/stellaops/authority@` + other + `
`,
		"infrastructure": `release:
  version: "2025.10.0"
  infrastructure:
    mongo:
      image: docker.io/library/mongo@` + dg + `
    mongo:
      image: docker.io/library/mongo@` + other + `
`,
	} {
		rel, err := Parse("r.yaml", []byte(data))
		if !errors.Is(err, errdef.ErrMalformed) || !strings.Contains(err.Error(), "r.yaml:") {
			var got []string
			if rel != nil {
				for _, img := range rel.Images {
					got = append(got, img.Ref.String())
				}
			}
			t.Errorf("%s given twice: err = %v (images %v), want ErrMalformed naming the file and line", name, err, got)
		}
	}
}
