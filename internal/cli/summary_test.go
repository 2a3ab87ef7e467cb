package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/mirror/pkg/bundle"
	"github.com/stellaops/mirror/pkg/mirror"
)

// TestCountedNouns: one of a thing is singular ("1 bundles" was what an
// inventory of one bundle printed).
func TestCountedNouns(t *testing.T) {
	for n, want := range map[int]string{0: "0 bundles", 1: "1 bundle", 2: "2 bundles"} {
		if got := counted(n, "bundle"); got != want {
			t.Errorf("counted(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestCreateSummaryWithoutChannel: a release without a channel reads
// "release     2025.10.0 (generation…", not with two spaces before the
// parenthesis where the channel would have been.
func TestCreateSummaryWithoutChannel(t *testing.T) {
	m := &bundle.Manifest{MirrorGeneration: 3, ExpiresAt: time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)}
	m.Release.Version = "2025.10.0"
	var out bytes.Buffer
	printCreate(&out, &mirror.CreateResult{Path: "bundle", Manifest: m})
	if want := "  release     2025.10.0 (generation 3, expires 2027-01-02T03:04:05Z)\n"; !strings.Contains(out.String(), want) {
		t.Errorf("summary:\n%s\nwant the line %q", out.String(), want)
	}
	m.Release.Channel = "stable"
	out.Reset()
	printCreate(&out, &mirror.CreateResult{Path: "bundle", Manifest: m})
	if want := "  release     2025.10.0 stable (generation 3,"; !strings.Contains(out.String(), want) {
		t.Errorf("summary:\n%s\nwant %q", out.String(), want)
	}
}
