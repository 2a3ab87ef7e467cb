package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
)

// copyGolden copies a file or directory of the oldest golden generation
// (testdata/bundles/v1) into a temporary directory.
func copyGolden(t *testing.T, rel string) string {
	t.Helper()
	from := filepath.Join(testutil.ModuleRoot(t), "testdata", "bundles", "v1", rel)
	to := filepath.Join(t.TempDir(), filepath.Base(rel))
	err := filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(from, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(to, r), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, r), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return to
}

// asNewer rewrites a canonical document of schemaVersion 1 as a newer
// stella might write it: schemaVersion 2 and a field this one does not know.
func asNewer(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Replace(string(data), `"schemaVersion": 1`, `"schemaVersion": 2`, 1)
	out = strings.Replace(out, "{\n", "{\n  \"addedLater\": true,\n", 1)
	if out == string(data) {
		t.Fatalf("%s: mutation changed nothing", path)
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestNewerFormatExit: a bundle, or a volume list, made by a newer stella
// (schemaVersion 2) exits 11 with one line naming the file, both versions
// and the advice to upgrade; with --format json the same line is the error.
// Before, the line said "manifest.json: json: unknown field "addedLater":
// malformed" and nothing about versions.
func TestNewerFormatExit(t *testing.T) {
	dir := copyGolden(t, "cert")
	asNewer(t, filepath.Join(dir, "manifest.json"))
	split := copyGolden(t, "split")
	list := filepath.Join(split, "full.tar.zst.volumes.json")
	asNewer(t, list)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"mirror", "inspect", dir}, "manifest.json was made by a newer stella (schemaVersion 2; this stella reads 1): upgrade stella on this side"},
		{[]string{"mirror", "verify-checksums", list}, list + " was made by a newer stella (schemaVersion 2; this stella reads 1): upgrade stella on this side"},
	} {
		code, _, stderr := run(t, tt.args...)
		if code != ExitMalformed || !strings.Contains(stderr, tt.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d: %s\nwant exit 11, one line containing %q", tt.args, code, stderr, tt.want)
		}
		code, stdout, _ := run(t, append(tt.args, "--format", "json")...)
		var res struct {
			Error    string `json:"error"`
			ExitCode int    `json:"exitCode"`
		}
		if err := json.Unmarshal([]byte(stdout), &res); err != nil || code != ExitMalformed || res.ExitCode != ExitMalformed || !strings.Contains(res.Error, tt.want) {
			t.Errorf("%v --format json: exit %d: %s (%v)", tt.args, code, stdout, err)
		}
	}
}
