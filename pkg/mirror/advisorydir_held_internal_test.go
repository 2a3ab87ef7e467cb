package mirror

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestAdvisoryHeldChecksAgain: an advisory whose file already held its
// bytes gets no temporary file; at commit, the file is checked again. The
// same bytes under a new inode (another import renamed them in) still
// pass; other bytes fail the commit, naming the file, rather than being
// recorded as stella's.
func TestAdvisoryHeldChecksAgain(t *testing.T) {
	content := []byte(`{"a":1}`)
	desc := ocispec.Descriptor{Digest: digest.FromBytes(content), Size: int64(len(content))}
	for _, tc := range []struct {
		name, then string
		wantErr    bool
	}{
		{"unchanged", "", false},
		{"same bytes, new file", `{"a":1}`, false},
		{"other bytes", `{"a":2}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "nvd.json")
			os.WriteFile(file, content, 0o644)
			a, err := openAdvisoryDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			p, err := a.create(desc, []string{"advisories/nvd.json"})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.tmps) != 0 || len(p.held) != 1 {
				t.Fatalf("temporaries %v, held %v: want none, and the file held", p.tmps, p.held)
			}
			if tc.then != "" {
				os.Remove(file)
				os.WriteFile(file, []byte(tc.then), 0o644)
			}
			if err := p.close(); err != nil {
				t.Fatal(err)
			}
			_, inPlace, err := p.commit()
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), file+" changed while this import ran") {
					t.Errorf("commit over other bytes: %v", err)
				}
				return
			}
			if err != nil || len(inPlace) != 1 {
				t.Errorf("commit: %v, in place %v", err, inPlace)
			}
		})
	}
}
