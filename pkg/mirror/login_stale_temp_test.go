package mirror_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/remote"
)

// TestLoginLogoutRemoveKilledSaveTemporary leaves beside config.json what
// a login killed between the credential store's write and its rename
// leaves (oras_credstore_temp_N, a whole config.json, the password in
// it): the next login removes it, and so does a logout. It stayed through
// both, the password logout removed still on disk. A file of another
// name stays.
func TestLoginLogoutRemoveKilledSaveTemporary(t *testing.T) {
	host := testutil.Registry(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfg, []byte(`{"auths":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "oras_credstore_temp_notes")
	writeFile(t, other, "not the store's")
	client, err := remote.New(remote.Options{PlainHTTP: true, ConfigFile: cfg})
	if err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(dir, "oras_credstore_temp_2319032139")
	killed := `{"auths":{"` + host + `":{"auth":"bWlycm9yOnMzY3JldA=="}}}`
	// A save of another oras-go tool under way (written just now) is
	// left to it; a killed one is older.
	fresh := filepath.Join(dir, "oras_credstore_temp_77")
	writeFile(t, fresh, killed)
	writeFile(t, left, killed)
	aged(t, left)
	if err := mirror.Login(t.Context(), mirror.LoginOptions{Registry: host, Username: "mirror", Password: "s3cret", Client: client}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(left); err == nil {
		t.Error("login left the temporary config a killed login left, its password in it")
	}
	writeFile(t, left, killed)
	aged(t, left)
	if removed, err := mirror.Logout(t.Context(), client, host); err != nil || !removed {
		t.Fatalf("logout: %v %v", removed, err)
	}
	if _, err := os.Lstat(left); err == nil {
		t.Error("logout left the temporary config a killed login left: the password it removed is still on disk")
	}
	if _, err := os.Lstat(other); err != nil {
		t.Errorf("a file not the store's was removed: %v", err)
	}
	if _, err := os.Lstat(fresh); err != nil {
		t.Errorf("a temporary written within the minute (another tool's save under way) was removed: %v", err)
	}
}

// aged sets path's times to two minutes ago, as a killed save's are.
func aged(t *testing.T, path string) {
	t.Helper()
	old := time.Now().Add(-2 * time.Minute)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
}
