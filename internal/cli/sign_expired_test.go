package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
)

// TestSignWarnsBundleExpired: sign of a bundle already past its expiresAt
// (created long ago, or kept too long before signing) signed it without a
// word, and the media carried across a bundle every far side refuses
// (exit 3). sign now says so on stderr, and still signs.
func TestSignWarnsBundleExpired(t *testing.T) {
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "config.json"), []byte("{}"), 0o600)
	t.Setenv("DOCKER_CONFIG", work)
	t.Setenv("COSIGN_PASSWORD", "stellaops-dev")
	host := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	key := filepath.Join(testutil.ModuleRoot(t), "tools/cosign/cosign.dev.key")
	for _, tt := range []struct {
		name    string
		args    []string
		wantOld bool
	}{
		{"expired", []string{"--created", "2025-01-01T00:00:00Z", "--valid-for", "1d"}, true},
		{"current", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(work, tt.name)
			if code, stdout, stderr := run(t, append([]string{"mirror", "create", "--images", releaseFile, "--advisories", advisories, "--output", out, "--plain-http"}, tt.args...)...); code != 0 {
				t.Fatalf("create: exit %d: %s%s", code, stdout, stderr)
			}
			code, stdout, stderr := run(t, "mirror", "sign", filepath.Join(out, "manifest.json"), "--key", key)
			if code != 0 {
				t.Fatalf("sign: exit %d: %s%s", code, stdout, stderr)
			}
			warned := strings.Contains(stderr, "expired at 2025-01-02T00:00:00Z: import, serve, push, sync and verify will refuse it (exit 3)")
			if warned != tt.wantOld {
				t.Errorf("warned %v, want %v:\n%s", warned, tt.wantOld, stderr)
			}
			if _, err := os.Stat(filepath.Join(out, "manifest.dsse")); err != nil {
				t.Errorf("not signed: %v", err)
			}
		})
	}
}
