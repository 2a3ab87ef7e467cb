package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stellaops/mirror/internal/testutil"
)

// TestMakeBuildStampsVersion runs `make -n build` on a copy of the
// Makefile in a git checkout of its own and reads the version it stamps:
// the release tag on a clean tree; never the bare tag on a tree with
// uncommitted changes, which is no longer that release (before, a dirty
// tree at v9.9.9 was stamped "v9.9.9", and the bundles it made named a
// release they were not made by); dev-<commit> off a tag; and "dev" for
// a source tree that is no git checkout, even one unpacked inside
// another repository's (before: that repository's commit).
func TestMakeBuildStampsVersion(t *testing.T) {
	tool(t, "make")
	tool(t, "git")
	makefile, err := os.ReadFile(filepath.Join(testutil.ModuleRoot(t), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@example.org", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	sh := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir, cmd.Env = dir, withoutVersion(env)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	stamped := regexp.MustCompile(`cli\.version=([^" ]*)`)
	version := func(dir string) string {
		t.Helper()
		m := stamped.FindStringSubmatch(sh(dir, "make", "-n", "build"))
		if m == nil {
			t.Fatalf("make -n build in %s stamps no version", dir)
		}
		return m[1]
	}
	repo := t.TempDir()
	if err := os.WriteFile(filepath.Join(repo, "Makefile"), makefile, 0o644); err != nil {
		t.Fatal(err)
	}
	sh(repo, "git", "init", "-q")
	sh(repo, "git", "add", "Makefile")
	sh(repo, "git", "commit", "-q", "-m", "first")
	commit := sh(repo, "git", "rev-parse", "HEAD")[:12]
	if got := version(repo); got != "dev-"+commit {
		t.Errorf("untagged: version %q, want %q", got, "dev-"+commit)
	}
	sh(repo, "git", "tag", "v9.9.9")
	if got := version(repo); got != "v9.9.9" {
		t.Errorf("at tag v9.9.9: version %q", got)
	}
	if err := os.WriteFile(filepath.Join(repo, "Makefile"), append(makefile, "\n# changed\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := version(repo); got != "v9.9.9+dirty" {
		t.Errorf("at tag v9.9.9 with uncommitted changes: version %q, want v9.9.9+dirty", got)
	}
	// A release's source tree (no .git) unpacked inside another checkout.
	src := filepath.Join(repo, "vendor", "stella")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "Makefile"), makefile, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := version(src); got != "dev" {
		t.Errorf("a source tree that is no checkout, inside another: version %q, want dev", got)
	}
}

// withoutVersion is env with no VERSION, which would override the stamp.
func withoutVersion(env []string) []string {
	var out []string
	for _, e := range env {
		if len(e) < 8 || e[:8] != "VERSION=" {
			out = append(out, e)
		}
	}
	return out
}
