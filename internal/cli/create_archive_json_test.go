package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
)

// TestCreateArchivePathDocumented: create --output FILE.tar --format json
// gives the archive as its path, and docs/json.md said `path` is "the
// bundle directory written", of which an archive's create leaves none: a
// script following it looked for a directory (found by review).
func TestCreateArchivePathDocumented(t *testing.T) {
	host := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	out := filepath.Join(t.TempDir(), "bundle.tar")
	code, stdout, stderr := run(t, "mirror", "create", "--images", releaseFile, "--advisories", advisories, "--output", out, "--plain-http", "--quiet", "--format", "json")
	var res struct{ Path string }
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || code != 0 || res.Path != out {
		t.Fatalf("create --output %s: exit %d (%v), path %q\n%s%s", out, code, err, res.Path, stdout, stderr)
	}
	data, err := os.ReadFile(repoFile("docs/json.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(data), "## `stella mirror create`")
	section, _, _ = strings.Cut(section, "\n## ")
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "| `path` |") && !strings.Contains(line, "archive") {
			t.Errorf("docs/json.md, create: %s; want it to say an --output FILE.tar gives the archive", line)
		}
	}
}
