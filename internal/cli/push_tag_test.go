package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
)

// TestPlacedNamesTheBundleTag: push (and sync) tag the bundle with REF's
// tag when it has one, not the release version; the summary said "Pushed
// 2025.10.0 … to HOST/REPO" all the same, so an operator who pushed to
// :latest then pulled REPO:2025.10.0 and found nothing. The summary and
// the JSON result (bundleTag) name the tag written.
func TestPlacedNamesTheBundleTag(t *testing.T) {
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "config.json"), []byte("{}"), 0o600)
	t.Setenv("DOCKER_CONFIG", work)
	dir := testBundle(t)
	host := testutil.Registry(t)
	code, stdout, stderr := run(t, "mirror", "push", dir, host+"/stellaops/mirror-bundle:latest", "--plain-http")
	if code != 0 {
		t.Fatalf("push: exit %d: %s", code, stderr)
	}
	first, _, _ := strings.Cut(stdout, "\n")
	if !strings.HasSuffix(first, ") to "+host+"/stellaops/mirror-bundle:latest") {
		t.Errorf("push summary %q does not name the tag written, latest", first)
	}
	if tags := testutil.Tags(t, host)["stellaops/mirror-bundle"]; !strings.Contains(strings.Join(tags, " "), "latest") {
		t.Fatalf("tags %v", tags)
	}
	code, stdout, stderr = run(t, "mirror", "push", dir, host+"/other/mirror-bundle", "--plain-http", "--format", "json")
	if code != 0 {
		t.Fatalf("push: exit %d: %s", code, stderr)
	}
	var res struct {
		Version   string `json:"version"`
		BundleTag string `json:"bundleTag"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.BundleTag == "" || res.BundleTag != res.Version {
		t.Errorf("push --format json: bundleTag %q, version %q (%v); want the release version, as no tag was given", res.BundleTag, res.Version, err)
	}
}
