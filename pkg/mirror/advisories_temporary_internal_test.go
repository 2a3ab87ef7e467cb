package mirror

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stellaops/mirror/pkg/layout"
)

// TestAddAdvisoriesLeavesImportTemporaries: a tier that carries on what it
// imported makes its bundle from its --advisories-dir, where an import
// killed (SIGKILL, a power cut) before its renames left its temporary
// files (.NAME.tmp-PID-HEX), of advisories no later bundle names, so no
// later import removes them. create leaves them out, as it does the
// record: before, a partial one failed create, exit 11 ("not well-formed
// JSON"), and a whole one went into the bundle as an advisory of that
// name.
func TestAddAdvisoriesLeavesImportTemporaries(t *testing.T) {
	adv := t.TempDir()
	os.Mkdir(filepath.Join(adv, "osv"), 0o755)
	files := map[string]string{
		"osv/x.json":                                  `{"x":1}`,
		"osv/.new.json.tmp-4242-0123456789ab":         `{"n":`,
		".vendor.json.tmp-4243-ba9876543210":          `{"v":1}`,
		"..stella-advisories.json.tmp-1-0123456789ab": `{}`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(adv, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stage, err := layout.Stage(filepath.Join(t.TempDir(), "bundle"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer stage.Abort()
	got, err := addAdvisories(context.Background(), slog.New(slog.DiscardHandler), stage, adv)
	if err != nil {
		t.Fatalf("a feed directory an import was cut short in: %v", err)
	}
	if len(got) != 1 || got[0].Path != "advisories/osv/x.json" {
		t.Errorf("advisories %+v, want osv/x.json alone", got)
	}
}
