package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/stellaops/mirror/internal/sample"
	"github.com/stellaops/mirror/internal/testutil"
	"github.com/stellaops/mirror/pkg/bundle"
)

// TestCreatePackReadByOtherTools creates a bundle from the distribution
// registry, packs it, and reads both with oras and skopeo.
func TestCreatePackReadByOtherTools(t *testing.T) {
	host := testutil.Distribution(t)
	rel, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	work := t.TempDir()
	dir := filepath.Join(work, "bundle")
	r := mustStella(t, "mirror", "create", "--images", releaseFile, "--advisories", advisories, "--output", dir,
		"--plain-http", "--created", "2026-11-01T00:00:00Z", "--format", "json")
	var created struct {
		Root     struct{ Digest digest.Digest }
		Manifest bundle.Manifest
	}
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil {
		t.Fatalf("create --format json: %v\n%s", err, r.stdout)
	}
	inBundle := map[string]digest.Digest{}
	for _, img := range created.Manifest.Images {
		inBundle[img.Repository] = img.Digest
	}
	for _, src := range rel.Images {
		if inBundle[src.Repository] != src.Descriptor.Digest {
			t.Errorf("%s: bundle digest %s, source %s", src.Repository, inBundle[src.Repository], src.Descriptor.Digest)
		}
	}
	archive := filepath.Join(work, "bundle.tar")
	mustStella(t, "mirror", "pack", dir, "--output", archive)

	version := rel.Spec.Version
	oras := tool(t, "oras")
	got := run(t, oras, "manifest", "fetch", "--oci-layout", archive+":"+version)
	if digest.FromString(got) != created.Root.Digest {
		t.Errorf("oras fetched root %s from the tar, want %s", digest.FromString(got), created.Root.Digest)
	}
	// oras splits --oci-layout at the last colon, so it addresses images by
	// digest (skopeo, below, by "<repository>:<version>").
	scannerWeb := rel.Images[2].Descriptor.Digest
	got = run(t, oras, "manifest", "fetch", "--oci-layout", archive+"@"+scannerWeb.String())
	if digest.FromString(got) != scannerWeb {
		t.Errorf("oras fetched scanner-web %s, want %s", digest.FromString(got), scannerWeb)
	}

	skopeo := tool(t, "skopeo")
	for _, img := range rel.Images {
		out := run(t, skopeo, "inspect", "--raw", "oci:"+dir+":"+img.Repository+":"+version)
		if digest.FromString(out) != img.Descriptor.Digest {
			t.Errorf("skopeo read %s as %s, want %s", img.Repository, digest.FromString(out), img.Descriptor.Digest)
		}
	}
	out := run(t, skopeo, "inspect", "--override-os", "linux", "--override-arch", "arm64", "oci:"+dir+":stellaops/scanner-web:"+version)
	if !strings.Contains(out, `"Architecture": "arm64"`) {
		t.Errorf("skopeo inspect of the arm64 scanner-web: %s", out)
	}
}

// TestCreateExitCodes checks the documented exit code, a one-line error
// naming the culprit, and no output left behind, for each kind of bad input.
func TestCreateExitCodes(t *testing.T) {
	host := testutil.Distribution(t)
	rel, releaseFile, advisories := testutil.PushSample(t, host, sample.Spec{})
	good, _ := os.ReadFile(releaseFile)
	authority := rel.Images[0].Descriptor.Digest
	tests := []struct {
		name    string
		release string
		extra   []string
		code    int
		want    string
	}{
		{"unpinned", strings.Replace(string(good), "@"+authority.String(), ":"+rel.Spec.Version, 1), nil, 11, "is not pinned by digest"},
		{"malformed", "release:\n  version: [\n", nil, 11, "release.yaml"},
		{"unknown image", strings.Replace(string(good), authority.Encoded(), strings.Repeat("a", 64), 1), nil, 1, "stellaops/authority@sha256:aaaa"},
		{"missing release file", "", []string{"--images", "/nonexistent/release.yaml"}, 1, "/nonexistent/release.yaml"},
		{"unreachable registry", strings.ReplaceAll(string(good), host, "127.0.0.1:9"), nil, 1, "127.0.0.1:9"},
		{"unknown flag", string(good), []string{"--no-such-flag"}, 1, "no-such-flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			work := t.TempDir()
			rf := filepath.Join(work, "release.yaml")
			os.WriteFile(rf, []byte(tt.release), 0o644)
			out := filepath.Join(work, "out", "bundle")
			args := []string{"mirror", "create", "--images", rf, "--advisories", advisories, "--output", out, "--plain-http", "--retries", "1"}
			args = append(args, tt.extra...)
			r := stella(t, nil, args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d\nstderr: %s", r.code, tt.code, r.stderr)
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "stella: ") || !strings.Contains(last, tt.want) {
				t.Errorf("error line %q does not name %q", last, tt.want)
			}
			if entries, _ := os.ReadDir(filepath.Join(work, "out")); len(entries) != 0 {
				t.Errorf("output left behind: %v", entries)
			}
		})
	}
}
