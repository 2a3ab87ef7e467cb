package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
)

// TestImportKilledBeforeAdvisoryRecord kills the import of B as its record
// of --advisories-dir is about to take its name: B's advisories are in
// place, and the one A wrote that B withdrew is removed, but the record is
// still A's (it never names a file B's import had not yet placed). The same
// import again completes: the withdrawn file, already gone, is no error,
// and the record is then B's. Before, the withdrawn file was never removed.
func TestImportKilledBeforeAdvisoryRecord(t *testing.T) {
	source, target := testutil.Distribution(t), testutil.Distribution(t)
	_, releaseFile, advisories := testutil.PushSample(t, source, sample.Spec{})
	entries, err := os.ReadDir(advisories)
	if err != nil || len(entries) < 2 {
		t.Fatalf("sample advisories: %v, %v", entries, err)
	}
	withdrawn := entries[0].Name()
	work := t.TempDir()
	fewer := filepath.Join(work, "fewer")
	os.Mkdir(fewer, 0o755)
	for _, e := range entries[1:] {
		data, _ := os.ReadFile(filepath.Join(advisories, e.Name()))
		os.WriteFile(filepath.Join(fewer, e.Name()), data, 0o644)
	}
	key := filepath.Join(testutil.ModuleRoot(t), "tools/cosign/cosign.dev.key")
	pub := filepath.Join(testutil.ModuleRoot(t), "tools/cosign/cosign.pub")
	bundle := func(name, adv, generation string) string {
		dir := filepath.Join(work, name)
		mustStella(t, "mirror", "create", "--images", releaseFile, "--advisories", adv, "--output", dir, "--plain-http", "--generation", generation)
		if r := stella(t, []string{"COSIGN_PASSWORD=stellaops-dev"}, "mirror", "sign", filepath.Join(dir, "manifest.json"), "--key", key); r.code != 0 {
			t.Fatalf("sign: %d %s", r.code, r.stderr)
		}
		return dir
	}
	a, b := bundle("a", advisories, "100"), bundle("b", fewer, "101")
	dir := filepath.Join(work, "advisories")
	imp := func(src string) []string {
		return []string{"mirror", "import", src, "--registry", target, "--plain-http", "--key", pub, "--advisories-dir", dir}
	}
	mustStella(t, imp(a)...)
	record := filepath.Join(dir, ".stella-advisories.json")
	recA, err := os.ReadFile(record)
	if err != nil {
		t.Fatalf("no record after A: %v", err)
	}
	// B's one advisory is A's, in place: the first rename into the
	// directory is the record's (strace names it by its directory, which
	// the rename is relative to); --quiet, since the withdrawal is told
	// before it.
	killAtRename(t, nil, dir, append(imp(b), "--quiet")...)
	if got, _ := os.ReadFile(record); string(got) != string(recA) {
		t.Errorf("killed before its rename, the record is not A's:\n%s", got)
	}
	if _, err := os.Lstat(filepath.Join(dir, withdrawn)); err == nil {
		t.Errorf("%s, withdrawn by B, not removed before the record", withdrawn)
	}
	r := mustStella(t, imp(b)...)
	if !strings.Contains(r.stderr, "gone=1") {
		t.Errorf("the re-run does not say the withdrawn file was gone:\n%s", r.stderr)
	}
	got, _ := os.ReadFile(record)
	if string(got) == string(recA) || strings.Contains(string(got), withdrawn) {
		t.Errorf("record after the re-run:\n%s", got)
	}
	if tmps := temporaries(t, dir); len(tmps) != 0 {
		t.Errorf("left among the advisories: %v", tmps)
	}
	for _, e := range entries[1:] {
		want, _ := os.ReadFile(filepath.Join(fewer, e.Name()))
		if data, err := os.ReadFile(filepath.Join(dir, e.Name())); err != nil || string(data) != string(want) {
			t.Errorf("%s: not B's (%v)", e.Name(), err)
		}
	}
}
