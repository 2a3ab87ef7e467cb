package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestImportKilledBeforeAdvisoryRecord kills the import of B as its record
// of --advisories-dir is about to take its name: B's advisories are in
// place, and the one A wrote that B withdrew is removed, but the record is
// still A's (it never names a file B's import had not yet placed). The same
// import again completes: the withdrawn file, already gone, is no error,
// and the record is then B's. Before, the withdrawn file was never removed.
func TestImportKilledBeforeAdvisoryRecord(t *testing.T) {
	l := newWithdrawal(t)
	dir := filepath.Join(l.work, "advisories")
	imp := func(src string) []string {
		return []string{"mirror", "import", src, "--registry", l.target, "--plain-http", "--key", l.pub, "--advisories-dir", dir}
	}
	mustStella(t, imp(l.a)...)
	record := filepath.Join(dir, ".stella-advisories.json")
	recA, err := os.ReadFile(record)
	if err != nil {
		t.Fatalf("no record after A: %v", err)
	}
	// B's one advisory is A's, in place: the first rename into the
	// directory is the record's (strace names it by its directory, which
	// the rename is relative to); --quiet, since the withdrawal is told
	// before it.
	killAtRename(t, nil, dir, append(imp(l.b), "--quiet")...)
	if got, _ := os.ReadFile(record); string(got) != string(recA) {
		t.Errorf("killed before its rename, the record is not A's:\n%s", got)
	}
	if _, err := os.Lstat(filepath.Join(dir, l.withdrawn)); err == nil {
		t.Errorf("%s, withdrawn by B, not removed before the record", l.withdrawn)
	}
	r := mustStella(t, imp(l.b)...)
	if !strings.Contains(r.stderr, "gone=1") {
		t.Errorf("the re-run does not say the withdrawn file was gone:\n%s", r.stderr)
	}
	got, _ := os.ReadFile(record)
	if string(got) == string(recA) || strings.Contains(string(got), l.withdrawn) {
		t.Errorf("record after the re-run:\n%s", got)
	}
	if tmps := temporaries(t, dir); len(tmps) != 0 {
		t.Errorf("left among the advisories: %v", tmps)
	}
	for _, e := range l.entries[1:] {
		want, _ := os.ReadFile(filepath.Join(l.fewer, e.Name()))
		if data, err := os.ReadFile(filepath.Join(dir, e.Name())); err != nil || string(data) != string(want) {
			t.Errorf("%s: not B's (%v)", e.Name(), err)
		}
	}
}

// withdrawal is two signed bundles of the sample release: a, with its
// advisories (entries), and b, newer, without the first of them
// (withdrawn), its others in fewer; and a registry to import them into.
type withdrawal struct {
	a, b, pub, target, work, withdrawn, fewer string
	entries                                   []os.DirEntry
}

func newWithdrawal(t *testing.T) *withdrawal {
	t.Helper()
	source, target := testutil.Distribution(t), testutil.Distribution(t)
	_, releaseFile, advisories := testutil.PushSample(t, source, sample.Spec{})
	entries, err := os.ReadDir(advisories)
	if err != nil || len(entries) < 2 {
		t.Fatalf("sample advisories: %v, %v", entries, err)
	}
	work := t.TempDir()
	fewer := filepath.Join(work, "fewer")
	os.Mkdir(fewer, 0o755)
	for _, e := range entries[1:] {
		data, _ := os.ReadFile(filepath.Join(advisories, e.Name()))
		os.WriteFile(filepath.Join(fewer, e.Name()), data, 0o644)
	}
	key := filepath.Join(testutil.ModuleRoot(t), "tools/cosign/cosign.dev.key")
	bundle := func(name, adv, generation string) string {
		dir := filepath.Join(work, name)
		mustStella(t, "mirror", "create", "--images", releaseFile, "--advisories", adv, "--output", dir, "--plain-http", "--generation", generation)
		if r := stella(t, []string{"COSIGN_PASSWORD=stellaops-dev"}, "mirror", "sign", filepath.Join(dir, "manifest.json"), "--key", key); r.code != 0 {
			t.Fatalf("sign: %d %s", r.code, r.stderr)
		}
		return dir
	}
	return &withdrawal{a: bundle("a", advisories, "100"), b: bundle("b", fewer, "101"), pub: filepath.Join(testutil.ModuleRoot(t), "tools/cosign/cosign.pub"),
		target: target, work: work, withdrawn: entries[0].Name(), fewer: fewer, entries: entries}
}

// TestTwoImportsAtOnceOneAdvisoriesDir runs two import processes of B at
// once into the directory A's import wrote: both end well, each finishing
// there in its turn (the second reads the record the first wrote, so
// nothing is withdrawn twice); the directory holds B's advisories, the one
// B withdrew removed, and no temporary file.
func TestTwoImportsAtOnceOneAdvisoriesDir(t *testing.T) {
	l := newWithdrawal(t)
	dir := filepath.Join(l.work, "advisories")
	mustStella(t, "mirror", "import", l.a, "--registry", l.target, "--plain-http", "--key", l.pub, "--advisories-dir", dir)
	cmds := make([]*exec.Cmd, 2)
	outs := make([]bytes.Buffer, 2)
	for i := range cmds {
		cmds[i] = exec.Command(stellaBin, "mirror", "import", l.b, "--registry", l.target, "--plain-http", "--key", l.pub, "--advisories-dir", dir, "--format", "json")
		cmds[i].Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
		cmds[i].Stdout, cmds[i].Stderr = &outs[i], io.Discard
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	removed := 0
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("import %d: %v\n%s", i, err, outs[i].String())
		}
		var res mirror.PlaceResult
		if err := json.Unmarshal(outs[i].Bytes(), &res); err != nil {
			t.Fatal(err)
		}
		for _, w := range res.WithdrawnAdvisories {
			if w.State == mirror.WithdrawnRemoved {
				removed++
			}
		}
	}
	if removed != 1 {
		t.Errorf("the withdrawn advisory removed %d times, want once", removed)
	}
	if _, err := os.Lstat(filepath.Join(dir, l.withdrawn)); err == nil {
		t.Errorf("%s, withdrawn, is still there", l.withdrawn)
	}
	if tmps := temporaries(t, dir); len(tmps) != 0 {
		t.Errorf("left among the advisories: %v", tmps)
	}
	for _, e := range l.entries[1:] {
		want, _ := os.ReadFile(filepath.Join(l.fewer, e.Name()))
		if data, err := os.ReadFile(filepath.Join(dir, e.Name())); err != nil || string(data) != string(want) {
			t.Errorf("%s: not B's (%v)", e.Name(), err)
		}
	}
}

// TestImportAgainWritesNoAdvisory traces the same import run again: it
// syncs nothing under --advisories-dir and renames nothing there (every
// advisory already holds its bytes, the record is unchanged). Before, every
// advisory was written again to a temporary file, synced, and renamed
// over the same bytes: a feed of gigabytes rewritten on each check.
func TestImportAgainWritesNoAdvisory(t *testing.T) {
	l := newWithdrawal(t)
	dir := filepath.Join(l.work, "advisories")
	imp := []string{"mirror", "import", l.b, "--registry", l.target, "--plain-http", "--key", l.pub, "--advisories-dir", dir}
	mustStella(t, imp...)
	for _, c := range syncTrace(t, nil, imp...) {
		if strings.HasPrefix(c.path, dir+string(filepath.Separator)) || c.path == dir {
			t.Errorf("the same import again: %s %s", c.op, c.path)
		}
	}
}
