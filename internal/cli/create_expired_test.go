package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
)

// TestCreateWarnsBundleExpiredAtBirth: a createdAt fixed in the past (CI
// setting SOURCE_DATE_EPOCH to an old commit's time, for reproducible
// bytes) by more than --valid-for wrote a bundle that import, serve and
// verify refuse (exit 3), without a word until the far side. create now
// says so, naming where createdAt came from, and still writes it.
func TestCreateWarnsBundleExpiredAtBirth(t *testing.T) {
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "config.json"), []byte("{}"), 0o600)
	t.Setenv("DOCKER_CONFIG", work)
	host := testutil.Registry(t)
	_, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	recent := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	tests := []struct {
		name     string
		epoch    string
		args     []string
		wantWarn []string
	}{
		{"SOURCE_DATE_EPOCH long past", "1700000000", nil,
			[]string{"bundle expired when written", "SOURCE_DATE_EPOCH=1700000000", "createdAt 2023-11-14T22:13:20Z", "expires at 2024-02-12T22:13:20Z", "--valid-for"}},
		{"--created past --valid-for", "", []string{"--created", "2026-01-01T00:00:00Z", "--valid-for", "30d"},
			[]string{"bundle expired when written", "--created makes createdAt 2026-01-01T00:00:00Z", "expires at 2026-01-31T00:00:00Z"}},
		{"--created within --valid-for", "1700000000", []string{"--created", recent}, nil},
		{"SOURCE_DATE_EPOCH with a long --valid-for", "1700000000", []string{"--valid-for", "36500d"}, nil},
		{"clock", "", nil, nil},
		// Minutes typed for days: a bundle that expires before it can
		// cross (found by review: taken without a word).
		{"--valid-for 30m", "", []string{"--valid-for", "30m"}, []string{"expires at", "within a day (--valid-for 30m)", "--valid-for 30d"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SOURCE_DATE_EPOCH", tt.epoch)
			if tt.epoch == "" {
				os.Unsetenv("SOURCE_DATE_EPOCH")
			}
			out := filepath.Join(work, "bundle"+string(rune('a'+i)))
			args := append([]string{"mirror", "create", "--images", releaseFile, "--advisories", advisories, "--output", out, "--plain-http"}, tt.args...)
			code, stdout, stderr := run(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s%s", code, stdout, stderr)
			}
			if tt.wantWarn == nil && strings.Contains(stderr, "expired when written") {
				t.Errorf("warned of a bundle that is not expired:\n%s", stderr)
			}
			for _, want := range tt.wantWarn {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr does not say %q:\n%s", want, stderr)
				}
			}
			if strings.Count(stderr, "\n") > 1 {
				t.Errorf("more than one line on stderr:\n%s", stderr)
			}
		})
	}
}
