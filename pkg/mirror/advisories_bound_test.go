package mirror_test

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestRecordRemovesOnlyFilesStellaWrote: a record names the files an
// import wrote by path and digest; one copied into another directory (with
// `cp -a`, or the record alone), or edited to name a file stella never
// wrote with that file's real digest, made the next import remove the
// operator's own files, of the same bytes, that the bundle withdrew. A
// record names the very files stella wrote (each one's inode): a file of
// the same name and bytes that is another file is left, as changed.
func TestRecordRemovesOnlyFilesStellaWrote(t *testing.T) {
	l := newAdvisoryLine(t)
	a, b := l.bundle(t, 100, advA), l.bundle(t, 102, advB)
	dirA := filepath.Join(t.TempDir(), "advisories")
	if _, err := l.importInto(t, a, testutil.Registry(t), dirA); err != nil {
		t.Fatal(err)
	}
	record, err := os.ReadFile(filepath.Join(dirA, recordName))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("copied", func(t *testing.T) {
		// The operator's own directory: the same files, written by them,
		// and the record copied from dirA.
		dir := t.TempDir()
		for name, content := range advA {
			os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
			os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
		}
		os.WriteFile(filepath.Join(dir, recordName), record, 0o644)
		res, err := l.importInto(t, b, testutil.Registry(t), dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"nvd/2025/fp.json", "old/gone.json"} {
			if data, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(data) != advA[name] {
				t.Errorf("the operator's %s: %q, %v", name, data, err)
			}
		}
		if got, want := fmt.Sprint(res.WithdrawnAdvisories), fmt.Sprintf("[{%s/nvd/2025/fp.json changed} {%s/old/gone.json changed}]", dir, dir); got != want {
			t.Errorf("withdrawn %s, want %s", got, want)
		}
	})
	t.Run("edited", func(t *testing.T) {
		// dirA's record, edited to name the operator's own file there.
		dir := filepath.Join(t.TempDir(), "advisories")
		if _, err := l.importInto(t, a, testutil.Registry(t), dir); err != nil {
			t.Fatal(err)
		}
		mine := `{"mine":1}`
		os.WriteFile(filepath.Join(dir, "local.json"), []byte(mine), 0o644)
		rec, _ := os.ReadFile(filepath.Join(dir, recordName))
		entry := fmt.Sprintf(`"files": [
    {
      "path": "local.json",
      "digest": %q,
      "size": %d
    },`, digest.FromString(mine), len(mine))
		os.WriteFile(filepath.Join(dir, recordName), []byte(strings.Replace(string(rec), `"files": [`, entry, 1)), 0o644)
		if _, err := l.importInto(t, b, testutil.Registry(t), dir); err != nil {
			t.Fatal(err)
		}
		if data, err := os.ReadFile(filepath.Join(dir, "local.json")); err != nil || string(data) != mine {
			t.Errorf("the operator's local.json: %q, %v", data, err)
		}
		if _, err := os.Lstat(filepath.Join(dir, "old", "gone.json")); err == nil {
			t.Errorf("old/gone.json, which stella wrote and B withdrew, is left")
		}
	})
}

// TestRecordOfAnotherUserRemovesNothing: the record decides what import
// removes, so a record another user could have written (owned by another
// user, or writable by group or others) is not taken as this stella's: in
// a directory shared with a group, a member could otherwise have an import
// run by root remove any file the record named. Nothing withdrawn is
// removed, the import says why, and its own record replaces it.
func TestRecordOfAnotherUserRemovesNothing(t *testing.T) {
	l := newAdvisoryLine(t)
	a, b := l.bundle(t, 100, advA), l.bundle(t, 102, advB)
	for _, tc := range []struct {
		name string
		edit func(string) error
	}{
		{"writable by others", func(p string) error { return os.Chmod(p, 0o666) }},
		{"another user's", func(p string) error {
			if os.Geteuid() != 0 {
				t.Skip("needs root to give the record to another user")
			}
			return os.Chown(p, 4242, 4242)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, dir := testutil.Registry(t), filepath.Join(t.TempDir(), "advisories")
			if _, err := l.importInto(t, a, target, dir); err != nil {
				t.Fatal(err)
			}
			if err := tc.edit(filepath.Join(dir, recordName)); err != nil {
				t.Fatal(err)
			}
			var logs strings.Builder
			res, err := l.importInto(t, b, target, dir, func(o *mirror.ImportOptions) {
				o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, "old", "gone.json")); err != nil || len(res.WithdrawnAdvisories) != 0 {
				t.Errorf("withdrawn under another's record: %v, %v", err, res.WithdrawnAdvisories)
			}
			if !strings.Contains(logs.String(), recordName) || !strings.Contains(logs.String(), "removes nothing") {
				t.Errorf("logs:\n%s", logs.String())
			}
			st, err := os.Stat(filepath.Join(dir, recordName))
			if err != nil || st.Mode().Perm() != 0o644 {
				t.Errorf("record after: %v, %v", st, err)
			}
		})
	}
}

// TestWithdrawalLeavesACarriedFileUnderAnotherCase: a feed file renamed
// only in case (Vendor.json → vendor.json, same bytes) is, on a
// case-insensitive file system (macOS, Windows), one file under both
// names: the import found vendor.json in place (Vendor.json's file), then
// withdrew Vendor.json and removed that file, so the release's advisory was
// gone while the import said it was in place. Emulated here, on a
// case-sensitive file system, by a hard link: the withdrawn name that is
// the very file of a name the bundle carries, under another case, is not
// removed, nor reported withdrawn.
func TestWithdrawalLeavesACarriedFileUnderAnotherCase(t *testing.T) {
	l := newAdvisoryLine(t)
	a := l.bundle(t, 100, map[string]string{"Vendor.json": `{"v":1}`, "osv/x.json": `{"x":1}`})
	b := l.bundle(t, 102, map[string]string{"vendor.json": `{"v":1}`, "osv/x.json": `{"x":1}`})
	target, dir := testutil.Registry(t), filepath.Join(t.TempDir(), "advisories")
	if _, err := l.importInto(t, a, target, dir); err != nil {
		t.Fatal(err)
	}
	// What a case-insensitive file system answers for vendor.json.
	if err := os.Link(filepath.Join(dir, "Vendor.json"), filepath.Join(dir, "vendor.json")); err != nil {
		t.Fatal(err)
	}
	res, err := l.importInto(t, b, target, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.WithdrawnAdvisories) != 0 {
		t.Errorf("withdrawn %v: the file is the one the bundle carries as vendor.json", res.WithdrawnAdvisories)
	}
	if _, err := os.Lstat(filepath.Join(dir, "Vendor.json")); err != nil {
		t.Errorf("removed: %v", err)
	}
}
