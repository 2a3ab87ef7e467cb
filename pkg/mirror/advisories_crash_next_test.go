package mirror_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
