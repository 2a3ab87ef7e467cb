package mirror

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
)

// TestWithdrawalRemovesWhatItHashed: between the hash that finds a
// withdrawn advisory still stella's and its removal, its directory is
// replaced by a symlink to another directory of the advisories directory
// (anyone who may write the directory can do so; the operator's own
// vendor/ there may be writable by root alone). The removal went by name
// again, through the symlink, and removed the operator's vendor/x.json. It
// now removes only the file it hashed, in the directory it found it in
// (stella's own, moved aside as nvd.old).
func TestWithdrawalRemovesWhatItHashed(t *testing.T) {
	dir := t.TempDir()
	content := []byte(`{"fp":1}`)
	os.MkdirAll(filepath.Join(dir, "nvd"), 0o755)
	os.MkdirAll(filepath.Join(dir, "vendor"), 0o755)
	os.WriteFile(filepath.Join(dir, "nvd", "x.json"), content, 0o644)
	os.WriteFile(filepath.Join(dir, "vendor", "x.json"), []byte(`{"mine":1}`), 0o644)
	st, err := os.Lstat(filepath.Join(dir, "nvd", "x.json"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := openAdvisoryDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	withdrawHashedHook = func() {
		os.Rename(filepath.Join(dir, "nvd"), filepath.Join(dir, "nvd.old"))
		if err := os.Symlink("vendor", filepath.Join(dir, "nvd")); err != nil {
			t.Error(err)
		}
	}
	defer func() { withdrawHashedHook = nil }()
	state, err := a.withdrawOne(recordedAdvisory{Path: "nvd/x.json", Digest: digest.FromBytes(content), Size: int64(len(content)), File: fileID(st)}, false)
	if err != nil || state != WithdrawnRemoved {
		t.Errorf("state %q, %v; want %q", state, err, WithdrawnRemoved)
	}
	if _, err := os.Lstat(filepath.Join(dir, "nvd.old", "x.json")); err == nil {
		t.Errorf("the file hashed, stella's, moved to nvd.old/x.json, is left")
	}
	if data, err := os.ReadFile(filepath.Join(dir, "vendor", "x.json")); err != nil || string(data) != `{"mine":1}` {
		t.Errorf("the operator's vendor/x.json: %q, %v", data, err)
	}
}
