package mirror_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/errdef"
)

// TestImportRefusesToWriteOverTheOperatorsOwnFile imports A, then puts a
// file of the operator's own (never in the record) where bundle B adds an
// advisory, osv/new.json: B's import is refused, exit 1, naming the file,
// before any tag or advisory is written, and the file is left as it was.
// B's advisory was renamed over it without a word, though the record said
// stella never wrote there; files of one's own are never removed, the
// import's documentation says.
func TestImportRefusesToWriteOverTheOperatorsOwnFile(t *testing.T) {
	l := newAdvisoryLine(t)
	b, _, dir := l.importedA(t)
	mine := filepath.Join(dir, "osv", "new.json")
	if err := os.WriteFile(mine, []byte(`{"mine":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	before := advisoriesIn(t, dir)
	record, _ := os.ReadFile(filepath.Join(dir, recordName))
	target := testutil.Registry(t)
	_, err := l.importInto(t, b, target, dir)
	if !errors.Is(err, errdef.ErrExists) {
		t.Fatalf("import of B over the operator's own osv/new.json: %v, want %v", err, errdef.ErrExists)
	}
	if got, want := err.Error(), mine; !strings.Contains(got, want) {
		t.Errorf("the refusal does not name %s: %v", want, err)
	}
	if tags := testutil.Tags(t, target); len(tags) != 0 {
		t.Errorf("a refused import tagged %v", tags)
	}
	if got := advisoriesIn(t, dir); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Errorf("a refused import changed the directory:\n got %v\nwant %v", got, before)
	}
	if now, _ := os.ReadFile(filepath.Join(dir, recordName)); string(now) != string(record) {
		t.Errorf("a refused import wrote the record:\n%s", now)
	}
	// Moved aside, as the refusal says, the import goes through.
	if err := os.Rename(mine, filepath.Join(dir, "mine.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.importInto(t, b, target, dir); err != nil {
		t.Fatal(err)
	}
}
