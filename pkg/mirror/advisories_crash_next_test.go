package mirror_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/pkg/mirror"
)

// TestAdvisoriesCrashAmongRenamesThenNext: the import of B is cut short
// among its advisories' renames, once nvd/a.json (B changed it) and
// osv/new.json (B added it) are in place, before its record is written.
// The next import is not B again but C, which withdraws both: they are
// files B's import wrote, and C's import removes them, leaving exactly
// C's set, and a record of C's alone. Before, the record being A's still,
// osv/new.json was in no record and stayed for good, without a word, and
// nvd/a.json, B's bytes under A's entry, was taken for an operator's edit
// and left, "not what stella wrote there".
func TestAdvisoriesCrashAmongRenamesThenNext(t *testing.T) {
	l := newAdvisoryLine(t)
	b, target, dir := l.importedA(t)
	advC := map[string]string{"osv/x.json": `{"x":1}`, "vendor.json": `{"v":2}`}
	c := l.bundle(t, 104, advC)
	crash := errors.New("crash")
	renamed := map[string]bool{}
	mirror.SetAdvisoryRenamedHook(t, func(name string) error {
		renamed[name] = true
		if renamed["nvd/a.json"] && renamed["osv/new.json"] {
			return crash
		}
		return nil
	})
	if _, err := l.importInto(t, b, target, dir); !errors.Is(err, crash) {
		t.Fatalf("B, cut short: %v", err)
	}
	mirror.SetAdvisoryRenamedHook(t, nil)
	if _, err := l.importInto(t, c, target, dir); err != nil {
		t.Fatalf("C after B's cut short: %v", err)
	}
	if got := advisoriesIn(t, dir); fmt.Sprint(got) != fmt.Sprint(advC) {
		t.Errorf("after B cut short among its renames, then C:\n got %v\nwant %v", got, advC)
	}
	// C again, with C's record, withdraws nothing more and rewrites nothing.
	rec, _ := os.ReadFile(filepath.Join(dir, recordName))
	if _, err := l.importInto(t, c, target, dir); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, recordName)); string(again) != string(rec) {
		t.Errorf("C's record, C again:\n%s\nthen\n%s", rec, again)
	}
}

// TestAdvisoriesCrashTemporariesWithdrawn: an import of B killed among its
// renames leaves the temporary file of an advisory it had not renamed yet
// (osv/.new.json.tmp-PID-HEX, PID no longer running). C withdraws that
// advisory, so no import writes it again, which is when such a file was
// removed: C's import removes it. Before, it stayed hidden there for good.
func TestAdvisoriesCrashTemporariesWithdrawn(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("no true(1) to take a finished process's id from")
	}
	l := newAdvisoryLine(t)
	b, target, dir := l.importedA(t)
	advC := map[string]string{"osv/x.json": `{"x":1}`, "vendor.json": `{"v":2}`}
	c := l.bundle(t, 104, advC)
	crash := errors.New("crash")
	tmp := filepath.Join(dir, "osv", fmt.Sprintf(".new.json.tmp-%d-0123456789ab", dead.Process.Pid))
	mirror.SetAdvisoryRenamedHook(t, func(name string) error {
		if name != "nvd/a.json" {
			return nil
		}
		// Killed here, before osv/new.json's rename: its temporary stays
		// (this process, alive, removes its own as it fails).
		os.MkdirAll(filepath.Dir(tmp), 0o755)
		os.WriteFile(tmp, []byte(`{"n":1}`), 0o644)
		return crash
	})
	if _, err := l.importInto(t, b, target, dir); !errors.Is(err, crash) {
		t.Fatalf("B, cut short: %v", err)
	}
	mirror.SetAdvisoryRenamedHook(t, nil)
	if _, err := os.Lstat(tmp); err != nil {
		t.Fatalf("the killed import's temporary is not there: %v", err)
	}
	if _, err := l.importInto(t, c, target, dir); err != nil {
		t.Fatalf("C after B's cut short: %v", err)
	}
	if _, err := os.Lstat(tmp); err == nil {
		t.Errorf("%s, of an advisory C withdrew, is left", tmp)
	}
}

// TestAdvisoriesFailAmongRenamesSaysPartly: an import whose advisories
// fail to be placed once some are renamed into place (EIO, a full disk)
// says the directory was updated in part, and to run the import again.
// Before, it said "--advisories-dir DIR was not updated", where it held
// some of the new bundle's advisories beside the old one's.
func TestAdvisoriesFailAmongRenamesSaysPartly(t *testing.T) {
	l := newAdvisoryLine(t)
	b, target, dir := l.importedA(t)
	eio := errors.New("input/output error")
	mirror.SetAdvisoryRenamedHook(t, func(string) error { return eio })
	_, err := l.importInto(t, b, target, dir)
	if !errors.Is(err, eio) {
		t.Fatalf("B, failed: %v", err)
	}
	if msg := err.Error(); strings.Contains(msg, "was not updated") || !strings.Contains(msg, "updated only in part") {
		t.Errorf("after an advisory was renamed into place: %v", err)
	}
}
