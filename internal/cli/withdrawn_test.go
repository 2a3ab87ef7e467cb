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

// TestImportReportsWithdrawnAdvisories: import of a bundle that no longer
// lists an advisory the previous import wrote removes it from
// --advisories-dir and says so: on stdout (text: a "withdrawn" line;
// --format json: withdrawnAdvisories, as docs/json.md has it) and in one
// line on stderr. Before, the file stayed, and nothing said so.
func TestImportReportsWithdrawnAdvisories(t *testing.T) {
	work := t.TempDir()
	t.Setenv("COSIGN_PASSWORD", "withdrawn-test")
	source, airgap := testutil.Registry(t), testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, source, sample.Spec{})
	entries, err := os.ReadDir(advisories)
	if err != nil || len(entries) < 2 {
		t.Fatalf("sample advisories: %v, %v", entries, err)
	}
	withdrawn := entries[0].Name()
	fewer := filepath.Join(work, "fewer")
	os.Mkdir(fewer, 0o755)
	for _, e := range entries[1:] {
		data, _ := os.ReadFile(filepath.Join(advisories, e.Name()))
		os.WriteFile(filepath.Join(fewer, e.Name()), data, 0o644)
	}
	key := filepath.Join(work, "cosign")
	mustRun(t, "mirror", "keygen", "--output-key-prefix", key)
	bundles := map[string]string{}
	for name, c := range map[string]struct{ adv, gen string }{"a": {advisories, "100"}, "b": {fewer, "101"}} {
		dir := filepath.Join(work, name)
		mustRun(t, "mirror", "create", "--images", releaseFile, "--advisories", c.adv, "--output", dir, "--plain-http", "--generation", c.gen)
		mustRun(t, "mirror", "sign", filepath.Join(dir, "manifest.json"), "--key", key+".key")
		bundles[name] = dir
	}
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			adv := filepath.Join(work, "adv-"+format)
			imp := func(b string) (string, string) {
				code, stdout, stderr := run(t, "mirror", "import", bundles[b], "--registry", airgap, "--plain-http", "--key", key+".pub", "--advisories-dir", adv, "--format", format, "--allow-rollback")
				if code != 0 {
					t.Fatalf("import %s: exit %d\n%s%s", b, code, stdout, stderr)
				}
				return stdout, stderr
			}
			imp("a")
			stdout, stderr := imp("b")
			if _, err := os.Lstat(filepath.Join(adv, withdrawn)); err == nil {
				t.Errorf("%s, withdrawn, is still in --advisories-dir", withdrawn)
			}
			if !strings.Contains(stderr, "advisories withdrawn") || !strings.Contains(stderr, "removed=1") || strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr, want one line naming the withdrawal:\n%s", stderr)
			}
			if format == "text" {
				if want := "  withdrawn   1: 1 removed, 0 kept (--keep-withdrawn), 0 left (changed since stella wrote them), 0 already gone\n"; !strings.Contains(stdout, want) {
					t.Errorf("stdout:\n%s\nwant the line %q", stdout, want)
				}
				return
			}
			checkSchema(t, "stella mirror import", stdout, jsonSchemas(t)["stella mirror import"])
			var res struct {
				Withdrawn []struct{ Path, State string } `json:"withdrawnAdvisories"`
			}
			json.Unmarshal([]byte(stdout), &res)
			if len(res.Withdrawn) != 1 || res.Withdrawn[0].Path != filepath.Join(adv, withdrawn) || res.Withdrawn[0].State != "removed" {
				t.Errorf("withdrawnAdvisories %+v, want %s removed", res.Withdrawn, withdrawn)
			}
		})
	}
}

func mustRun(t *testing.T, args ...string) {
	t.Helper()
	if code, stdout, stderr := run(t, args...); code != 0 {
		t.Fatalf("%s: exit %d\n%s%s", strings.Join(args, " "), code, stdout, stderr)
	}
}
