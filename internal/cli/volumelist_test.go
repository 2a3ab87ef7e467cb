package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/pkg/layout"
)

// TestVolumeListNotCanonical: a volume list spelt otherwise than pack
// --split writes it (here its keys reordered, every value as before) is
// refused with exit 11 naming the list, as manifest.json, a catalog or an
// inventory would be.
func TestVolumeListNotCanonical(t *testing.T) {
	dir := t.TempDir()
	content := []byte("one volume of a split archive")
	if err := os.WriteFile(filepath.Join(dir, "b.tar.000"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	n := int64(len(content))
	data, err := (&layout.VolumeSet{SchemaVersion: 1, Archive: "b.tar", VolumeSize: n, Size: n,
		Volumes: []layout.Volume{{Name: "b.tar.000", Size: n, Digest: digest.FromBytes(content)}}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(dir, "b.tar"+layout.VolumesSuffix)
	if err := os.WriteFile(list, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "mirror", "verify-checksums", list); code != ExitOK {
		t.Fatalf("the list as pack writes it: exit %d: %s", code, stderr)
	}
	reordered := strings.Replace(string(data), `"archive": "b.tar",`+"\n"+`  "schemaVersion": 1,`, `"schemaVersion": 1,`+"\n"+`  "archive": "b.tar",`, 1)
	if reordered == string(data) {
		t.Fatal("mutation changed nothing")
	}
	if err := os.WriteFile(list, []byte(reordered), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "mirror", "verify-checksums", list)
	if code != ExitMalformed || !strings.Contains(stderr, list) || !strings.Contains(stderr, "not in canonical form") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("reordered list: exit %d: %s", code, stderr)
	}
}
