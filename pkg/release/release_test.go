package release

import (
	"errors"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/errdef"
)

const dg = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseYAML(t *testing.T) {
	data := `# StellaOps release
release:
  version: "2025.10.0"
  channel: "stable"
  date: "2025-10-01T00:00:00Z"
  components:
    - name: authority
      image: registry.stella-ops.org/stellaops/authority@` + dg + `
    - name: scanner-web
      image: registry.stella-ops.org/stellaops/scanner-web:2025.10.0@` + dg + `
  infrastructure:
    mongo:
      image: docker.io/library/mongo@` + dg + `
    minio:
      image: minio/minio@` + dg + `
  charts: {}
`
	rel, err := Parse("r.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if rel.Version != "2025.10.0" || rel.Channel != "stable" || len(rel.Images) != 4 {
		t.Fatalf("got %+v", rel)
	}
	want := []struct {
		name, ref string
		line      int
	}{
		{"authority", "registry.stella-ops.org/stellaops/authority@" + dg, 8},
		{"scanner-web", "registry.stella-ops.org/stellaops/scanner-web:2025.10.0@" + dg, 10},
		{"mongo", "docker.io/library/mongo@" + dg, 13},
		{"minio", "docker.io/minio/minio@" + dg, 15},
	}
	for i, w := range want {
		got := rel.Images[i]
		if got.Name != w.name || got.Ref.String() != w.ref || got.Line != w.line {
			t.Errorf("image %d = %s %s line %d, want %s %s line %d", i, got.Name, got.Ref, got.Line, w.name, w.ref, w.line)
		}
	}
	if len(rel.Unpinned()) != 0 {
		t.Error("all images are pinned")
	}
}

func TestParseList(t *testing.T) {
	data := "# images\n\nregistry.example:5000/a/b@" + dg + "\nregistry.example/c/d:1.0  # tag only\n"
	rel, err := Parse("list.txt", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(rel.Images) != 2 || rel.Images[0].Name != "b" || rel.Images[0].Ref.Registry != "registry.example:5000" || rel.Images[1].Line != 4 {
		t.Fatalf("got %+v", rel.Images)
	}
	if u := rel.Unpinned(); len(u) != 1 || u[0].Ref.Tag != "1.0" {
		t.Errorf("unpinned %+v", u)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"yaml syntax", "release:\n  version: [\n", "r.yaml"},
		{"no release key", "other:\n  version: 1\n", "r.yaml:1: no \"release\" mapping"},
		{"no version", "release:\n  components:\n    - name: a\n      image: r.io/a@" + dg + "\n", "release.version: missing"},
		{"bad version", "release:\n  version: \"a b\"\n", "is not a valid tag"},
		{"no image", "release:\n  version: \"1\"\n  components:\n    - name: a\n", "components[0] (a): no image"},
		{"bad reference", "release:\n  version: \"1\"\n  components:\n    - name: a\n      image: r.io/A@sha256:xyz\n", "r.yaml:5: release.components[0].image"},
		{"components not list", "release:\n  version: \"1\"\n  components: 3\n", "r.yaml:3: release.components is not a list"},
		{"no images", "release:\n  version: \"1\"\n", "release names no images"},
		{"list bad line", "r.io/a@" + dg + "\nnot a reference\n", "r.yaml:2:"},
		{"empty list", "# nothing\n", "no image references"},
		// Refused before any image is pulled, as the bundle would refuse
		// them after: inspect prints names as they are.
		{"escape in name", "release:\n  version: \"1\"\n  components:\n    - name: \"a\\e[2J\"\n      image: r.io/a@" + dg + "\n", "r.yaml:4: release.components[0].name: \"a\\x1b[2J\" holds a control"},
		{"newline in infrastructure key", "release:\n  version: \"1\"\n  infrastructure:\n    \"db\\nVerified\":\n      image: r.io/a@" + dg + "\n", "name: \"db\\nVerified\" holds a control"},
		{"bidi override in channel", "release:\n  version: \"1\"\n  channel: \"stable\\u202e\"\n  components:\n    - image: r.io/a@" + dg + "\n", "r.yaml:3: release.channel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("r.yaml", []byte(tt.data))
			if !errors.Is(err, errdef.ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("release:\n  version: \"1\"\n  components:\n    - name: a\n      image: r.io/a@" + dg + "\n"))
	f.Add([]byte("r.io/a@" + dg + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rel, err := Parse("fuzz", data)
		if err == nil && len(rel.Images) == 0 {
			t.Fatal("a release without images parsed")
		}
		if err != nil && !errors.Is(err, errdef.ErrMalformed) {
			t.Fatalf("error %v is not ErrMalformed", err)
		}
	})
}
