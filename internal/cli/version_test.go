package cli

import (
	"encoding/json"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
)

// TestVersionShowsFormats: stella version says which format versions it
// writes (and reads, with every older one), in text and JSON, so that an
// operator can tell before a window whether the far side's stella reads
// what this side makes.
func TestVersionShowsFormats(t *testing.T) {
	code, stdout, stderr := run(t, "version")
	if code != ExitOK || !strings.Contains(stdout, "formats: bundle schemaVersion 1 (artifactType v1), volume list 1, inventory 1, catalog 1; reads these and older\n") {
		t.Errorf("stella version: exit %d: %s%s", code, stdout, stderr)
	}
	code, stdout, _ = run(t, "version", "--format", "json")
	var res struct {
		Formats map[string]int `json:"formats"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || code != ExitOK {
		t.Fatalf("stella version --format json: exit %d: %s (%v)", code, stdout, err)
	}
	want := map[string]int{"manifest": bundle.SchemaVersion, "artifactType": bundle.ArtifactVersion, "volumeList": 1, "inventory": 1, "catalog": 1}
	for k, v := range want {
		if res.Formats[k] != v {
			t.Errorf("formats.%s = %d, want %d (%s)", k, res.Formats[k], v, stdout)
		}
	}
}

// TestInspectShowsFormat: inspect says which format a bundle is in and
// what made it (the oldest golden bundle: schemaVersion 1, made by the
// stella commit that generated it).
func TestInspectShowsFormat(t *testing.T) {
	full := filepath.Join(testutil.ModuleRoot(t), "testdata", "bundles", "v1", "full.tar")
	code, stdout, stderr := run(t, "mirror", "inspect", full)
	if code != ExitOK || !strings.Contains(stdout, "Format     schemaVersion 1, made by stella mirror golden 7f9b992902cc\n") {
		t.Errorf("inspect: exit %d: %s%s", code, stdout, stderr)
	}
	code, stdout, _ = run(t, "mirror", "inspect", full, "--format", "json")
	var res struct {
		SchemaVersion int             `json:"schemaVersion"`
		Producer      bundle.Producer `json:"producer"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || code != ExitOK || res.SchemaVersion != 1 ||
		res.Producer != (bundle.Producer{Name: "stella mirror", Version: "golden 7f9b992902cc"}) {
		t.Errorf("inspect --format json: exit %d: %+v (%v)", code, res, err)
	}
}

// TestVersionNamesCommit: a build from source (no -ldflags version, no
// module version) says which commit it is, so that manifest.json's
// producer, which create fills from it, tells which stella made a bundle.
// Before, every such build said "dev".
func TestVersionNamesCommit(t *testing.T) {
	rev := "7f9b992902cc8152ce794b0ec47ba402a5da4820"
	for _, tt := range []struct {
		bi   *debug.BuildInfo
		want string
	}{
		{nil, "dev"},
		{&debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}}}, "dev-7f9b992902cc"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "true"}}}, "dev-7f9b992902cc+dirty"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "short"}}}, "dev"},
	} {
		if got := versionFrom(tt.bi); got != tt.want {
			t.Errorf("versionFrom(%+v) = %q, want %q", tt.bi, got, tt.want)
		}
	}
}
