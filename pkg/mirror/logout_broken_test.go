package mirror_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/mirror"
	"github.com/stellaops/mirror/pkg/remote"
)

// TestLogoutRemovesBrokenEntry: a logout removes the registry's entry
// that cannot be read (an auth field that is not base64, a user name
// without a password), the other entries kept. It failed on reading it,
// so the entry every command failed on could only be written over by a
// login (found by review).
func TestLogoutRemovesBrokenEntry(t *testing.T) {
	host := testutil.Registry(t)
	for name, entry := range map[string]string{
		"auth not base64": `{"auth":"not base64!"}`,
		"user only":       `{"auth":"` + base64.StdEncoding.EncodeToString([]byte("mirror:")) + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "config.json")
			if err := os.WriteFile(cfg, []byte(`{"auths":{"other.example:5000":{"auth":"b3RoZXI6cGFzcw=="},"`+host+`":`+entry+`}}`), 0o600); err != nil {
				t.Fatal(err)
			}
			client, err := remote.New(remote.Options{PlainHTTP: true, ConfigFile: cfg})
			if err != nil {
				t.Fatal(err)
			}
			removed, err := mirror.Logout(t.Context(), client, host)
			if err != nil || !removed {
				t.Fatalf("logout: removed %v, err %v; want the broken entry removed", removed, err)
			}
			got, _ := os.ReadFile(cfg)
			if want := "{\n\t\"auths\": {\n\t\t\"other.example:5000\": {\n\t\t\t\"auth\": \"b3RoZXI6cGFzcw==\"\n\t\t}\n\t}\n}"; string(got) != want {
				t.Errorf("config.json after logout:\n%s\nwant\n%s", got, want)
			}
		})
	}
}
