package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
)

// TestDiskFull runs every command that writes a bundle onto media too
// small for it (a file size limit, which the kernel enforces like a full
// disk: the write fails): each exits 1 with one line naming what it was
// writing and why, and leaves nothing behind, not even its staging.
func TestDiskFull(t *testing.T) {
	bash := tool(t, "bash")
	archive, pub, rel := signedBundle(t, sample.Spec{}, ".tar")
	dir := filepath.Join(filepath.Dir(archive), "bundle")
	source := testutil.Distribution(t)
	_, releaseFile, advisories := testutil.PushSample(t, source, sample.Spec{})
	registry := testutil.Distribution(t)
	ref := registry + "/stellaops/mirror-bundle:" + rel.Spec.Version
	mustStella(t, "mirror", "push", archive, registry+"/stellaops/mirror-bundle", "--plain-http", "--key", pub)

	// The sample's largest blob is 257 KiB: 200 KiB holds every file but it.
	const limitKiB = 200
	tests := []struct {
		name   string
		output string
		args   []string
	}{
		{"create", "bundle", []string{"create", "--images", releaseFile, "--advisories", advisories, "--plain-http", "--output"}},
		{"create --output .tar", "bundle.tar", []string{"create", "--images", releaseFile, "--advisories", advisories, "--plain-http", "--output"}},
		{"pack .tar", "bundle.tar", []string{"pack", dir, "--output"}},
		{"pack .tar.zst", "bundle.tar.zst", []string{"pack", dir, "--output"}},
		{"pack --split", "bundle.tar", []string{"pack", dir, "--split", "1M", "--output"}},
		{"pull", "pulled", []string{"pull", ref, "--plain-http", "--key", pub}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			media := t.TempDir()
			out := filepath.Join(media, tt.output)
			args := append([]string{"-c", `ulimit -f ` + strconv.Itoa(limitKiB) + ` && exec "$0" "$@"`, stellaBin, "mirror"}, tt.args...)
			args = append(args, out)
			r := runStella(t, nil, bash, args...)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "stella: ") || !strings.Contains(last, tt.output) || !strings.Contains(last, "file too large") {
				t.Errorf("error line %q does not name %s and the cause", last, tt.output)
			}
			if entries, _ := os.ReadDir(media); len(entries) != 0 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("left on the media: %v", names)
			}
		})
	}
}
